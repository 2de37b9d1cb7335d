package node

import (
	"context"
	"encoding/binary"
	"sort"
	"sync"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/raftreq"
)

// Default backend quota (etcd's --quota-backend-bytes 0): 2 GiB.
const DefaultQuotaBytes = 2 << 30

// Cost estimates, as etcd's quota.go: what a write may add to the backend.
const (
	kvOverhead    = 256
	leaseOverhead = 64
)

type alarmKey struct {
	member uint64
	alarm  raftreq.AlarmType
}

// alarms is the replicated alarm list: changed only by applying Alarm entries.
type alarms struct {
	mu sync.RWMutex
	m  map[alarmKey]struct{}
}

func (a *alarms) has(t raftreq.AlarmType) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for k := range a.m {
		if k.alarm == t {
			return true
		}
	}
	return false
}

// list returns the alarms of type t (all for NONE), sorted.
func (a *alarms) list(t raftreq.AlarmType) []raftreq.AlarmMember {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []raftreq.AlarmMember
	for k := range a.m {
		if t == raftreq.AlarmNone || k.alarm == t {
			out = append(out, raftreq.AlarmMember{MemberID: k.member, Alarm: k.alarm})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].MemberID != out[j].MemberID {
			return out[i].MemberID < out[j].MemberID
		}
		return out[i].Alarm < out[j].Alarm
	})
	return out
}

func (a *alarms) reset() {
	a.mu.Lock()
	a.m = nil
	a.mu.Unlock()
}

func (a *alarms) apply(r *raftreq.Alarm) []raftreq.AlarmMember {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[alarmKey]struct{}{}
	}
	k := alarmKey{r.MemberID, r.Alarm}
	switch r.Action {
	case raftreq.AlarmActivate:
		if r.Alarm == raftreq.AlarmNone {
			return nil
		}
		a.m[k] = struct{}{}
	case raftreq.AlarmDeactivate:
		if _, ok := a.m[k]; !ok {
			return nil
		}
		delete(a.m, k)
	default:
		return nil
	}
	return []raftreq.AlarmMember{{MemberID: r.MemberID, Alarm: r.Alarm}}
}

// Alarms are kept in the backend's metadata: "alarm/" + 8-byte member ID + type.
const alarmMetaPrefix = "alarm/"

// The type takes 4 bytes: etcd keeps any int32 a client sends (one byte, as written before,
// made an unknown type 257 come back as NOSPACE after a restart); 1-byte keys are still read.
func alarmMetaKey(member uint64, t raftreq.AlarmType) string {
	return alarmMetaPrefix + string(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, member), uint32(t)))
}

// applyAlarm applies an Alarm entry and records the change in the backend.
func (n *Node) applyAlarm(r *raftreq.Alarm) ([]raftreq.AlarmMember, error) {
	changed := n.alarms.apply(r)
	for _, a := range changed {
		e := backend.MetaEntry{Key: alarmMetaKey(a.MemberID, a.Alarm)}
		if r.Action == raftreq.AlarmActivate {
			e.Value = []byte{1}
		}
		if err := n.Store().CommitMeta(e); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// loadAlarms restores the alarms recorded in the backend.
func (n *Node) loadAlarms() {
	n.DB().AscendMeta(alarmMetaPrefix, func(k string, _ []byte) bool {
		b := []byte(k[len(alarmMetaPrefix):])
		var t raftreq.AlarmType
		switch len(b) {
		case 9:
			t = raftreq.AlarmType(b[8])
		case 12:
			t = raftreq.AlarmType(int32(binary.BigEndian.Uint32(b[8:])))
		default:
			return true
		}
		n.alarms.apply(&raftreq.Alarm{Action: raftreq.AlarmActivate, MemberID: binary.BigEndian.Uint64(b[:8]), Alarm: t})
		return true
	})
}

// Alarms lists the active alarms of type t (NONE = all).
func (n *Node) Alarms(t raftreq.AlarmType) []raftreq.AlarmMember { return n.alarms.list(t) }

// Alarm answers etcd's Alarm RPC: GET reads, ACTIVATE and DEACTIVATE go through the log.
func (n *Node) Alarm(ctx context.Context, r *raftreq.Alarm) ([]raftreq.AlarmMember, error) {
	if r.Action == raftreq.AlarmGet {
		if err := n.CheckAuthenticated(ctx); err != nil {
			return nil, err
		}
		return n.alarms.list(r.Alarm), nil
	}
	if err := n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	return proposeFor[[]raftreq.AlarmMember](ctx, n, &raftreq.Request{Alarm: r})
}

// cost is what a request may add to the backend (0 for requests that add nothing).
func cost(r *raftreq.Request) int {
	switch {
	case r.Put != nil:
		return kvOverhead + len(r.Put.Key) + len(r.Put.Value)
	case r.Txn != nil:
		return max(opsCost(r.Txn.Success), opsCost(r.Txn.Failure))
	case r.LeaseGrant != nil:
		return leaseOverhead
	}
	return 0
}

// opsCost counts the puts of one branch (not nested txns, as etcd).
func opsCost(ops []core.RequestOp) int {
	c := 0
	for _, op := range ops {
		if p := op.Put; p != nil {
			c += kvOverhead + len(p.Key) + len(p.Value)
		}
	}
	return c
}

// checkQuota refuses a write that would push the backend past its quota, raising the NOSPACE
// alarm as etcd does; while NOSPACE is raised every such write is refused.
func (n *Node) checkQuota(ctx context.Context, r *raftreq.Request) error {
	c := cost(r)
	if c == 0 || n.quota < 0 {
		return nil
	}
	if n.alarms.has(raftreq.AlarmNoSpace) {
		return ErrNoSpace
	}
	if n.Store().MVCC().Size()+int64(c) < n.quota {
		return nil
	}
	n.log.Warn("backend quota exceeded: raising the NOSPACE alarm", "quota", n.quota)
	n.propose(ctx, &raftreq.Request{Alarm: &raftreq.Alarm{
		Action: raftreq.AlarmActivate, MemberID: n.id, Alarm: raftreq.AlarmNoSpace}})
	return ErrNoSpace
}

// capped reports the error the apply path gives a request while an alarm is raised: etcd's
// capped applier (NOSPACE refuses what adds data) and corrupt applier (CORRUPT refuses all).
func (n *Node) capped(r *raftreq.Request) error {
	if r.Alarm != nil || r.LeaseCheckpoint != nil {
		return nil // alarms must still be raised and cleared; checkpoints add nothing
	}
	if n.alarms.has(raftreq.AlarmCorrupt) {
		return ErrCorrupt
	}
	if cost(r) > 0 && n.alarms.has(raftreq.AlarmNoSpace) {
		return ErrNoSpace
	}
	return nil
}
