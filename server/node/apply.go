package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/raftreq"
)

// applier applies what the Raft loop hands it, in log order, on its own goroutine: a slow
// apply delays reads that wait for it, never the log's persistence or the heartbeats.
func (r *raftNode) applier() {
	n := r.n
	for {
		select {
		case <-n.stopc:
			return
		case req := <-r.captures:
			req <- r.capture()
		case ap := <-r.applyc:
			if !raft.IsEmptySnap(ap.snapshot) {
				if err := r.installSnapshot(ap.snapshot); err != nil {
					r.fatal("install the leader's snapshot", err)
				}
				close(ap.done)
				r.dropStale()
				continue
			}
			for _, e := range ap.entries {
				r.applyCommitted(e)
			}
			n.w.setApplied(n.applied.Load())
			close(ap.done)
			r.dropStale()
			r.maybeSnapshot()
		}
	}
}

func (r *raftNode) applyCommitted(e raftpb.Entry) {
	n := r.n
	if e.Index <= n.applied.Load() {
		return // already in the snapshot the store was restored from
	}
	replayed := e.Index <= r.stored // the store already holds its changes
	// Before the entry's result is handed to its waiter, whose response header reports it.
	n.appliedTerm.Store(e.Term)
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) == 0 {
			// The empty entry a new leader commits: once applied, this leader has applied
			// everything committed before it. Only now may it extend the leases it
			// inherited (etcd's Promote) and start expiring them, so that no lease expires
			// early because the old leader died.
			if n.IsLeader() && e.Term == n.term.Load() {
				// A single voter's deadlines are its own (nobody else renewed them, and a
				// clean stop's checkpoint holds): nothing to extend.
				if len(n.voters()) > 1 || n.followedOther.Load() {
					n.Store().PromoteLeases(int64((n.cfg.ElectionTimeout + time.Second - 1) / time.Second))
				}
				n.leasesPromoted.Store(true)
				n.setReady()
			}
			break
		}
		if replayed {
			break
		}
		s := n.Store()
		s.SetApplied(e.Index)
		req, err := raftreq.Unmarshal(e.Data)
		if err != nil {
			n.log.Error("skipping a log entry that does not decode", "index", e.Index, "error", err)
			break
		}
		start := time.Now() // for the log only: nothing applied depends on it
		resp, err := n.apply(e.Index, req)
		if took := time.Since(start); took > n.cfg.WarningApplyDuration {
			n.cfg.ObserveSlowApply()
			n.log.Warn("apply request took too long", "took", took.String(), "expected-duration", n.cfg.WarningApplyDuration.String(),
				"index", e.Index, "request", req.Kind(), "error", err)
		}
		if err := s.SaveApplied(); err != nil {
			r.fatal(fmt.Sprintf("record applied index %d", e.Index), err)
		}
		if req.ID != 0 {
			n.w.trigger(req.ID, result{resp, err})
		}
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			r.fatal("decode a conf change", err)
		}
		reqID := cc.ID
		var err error
		switch {
		case !replayed:
			if err = r.applyMembership(e.Index, cc); err != nil {
				// Every member refused it; a replay (after a restart or a snapshot) must
				// hand Raft the same empty change, so the refusal is kept with the state.
				s := n.Store()
				s.SetApplied(e.Index)
				if cerr := s.CommitMeta(backend.MetaEntry{Key: idKey(rejectedMetaPrefix, e.Index), Value: []byte{1}}); cerr != nil {
					r.fatal("record a refused conf change", cerr)
				}
			}
		case r.rejected(e.Index):
			err = errRejected
		}
		if err != nil {
			// Refused by the membership's own checks: Raft must not see it either.
			cc = raftpb.ConfChange{}
		}
		r.confState = *r.node.ApplyConfChange(cc)
		if cc.Type == raftpb.ConfChangeAddNode || cc.Type == raftpb.ConfChangeAddLearnerNode {
			r.forceSnap = true
		}
		if reqID != 0 {
			n.w.trigger(reqID, result{confResult{members: n.members.list(), index: e.Index}, err})
		}
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			r.fatal("decode a conf change", err)
		}
		r.confState = *r.node.ApplyConfChange(cc)
	}
	n.applied.Store(e.Index)
}

// applyMembership applies a conf change to the replicated member list, with etcd's checks
// (made again here, at apply time, so every member decides the same).
func (r *raftNode) applyMembership(index uint64, cc raftpb.ConfChange) error {
	n := r.n
	var metas []backend.MetaEntry
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		var c confContext
		if err := json.Unmarshal(cc.Context, &c); err != nil {
			return fmt.Errorf("conf change context: %w", err)
		}
		m := c.Member
		old, exists := n.members.get(m.ID)
		switch {
		case cc.ID == 0:
			// A bootstrap entry (from --initial-cluster): keep what a replay already knows
			// (the published name and client URLs).
			if exists {
				m = old
			}
		case c.IsPromote:
			if !exists {
				return ErrIDNotFound
			}
			if !old.IsLearner {
				return ErrMemberNotLearner
			}
			m = old
			m.IsLearner = false
		case n.members.isRemoved(m.ID):
			return ErrIDRemoved
		case exists:
			return ErrMemberExist
		case n.members.peerURLUsed(m.PeerURLs, 0):
			return ErrPeerURLExist
		case cc.Type == raftpb.ConfChangeAddLearnerNode && n.learners()+1 > n.cfg.MaxLearners:
			return ErrTooManyLearners
		default:
			m.IsLearner = cc.Type == raftpb.ConfChangeAddLearnerNode
		}
		metas = append(metas, n.members.set(m))
		if m.ID != n.id {
			n.cfg.Transport.AddPeer(m.ID, m.PeerURLs)
		}
	case raftpb.ConfChangeRemoveNode:
		if _, ok := n.members.get(cc.NodeID); !ok {
			return ErrIDNotFound
		}
		metas = append(metas, n.members.remove(cc.NodeID)...)
		if cc.NodeID == n.id {
			n.removed.Do(func() { close(n.removedc) })
		} else {
			n.cfg.Transport.RemovePeer(cc.NodeID)
		}
	case raftpb.ConfChangeUpdateNode:
		var c confContext
		if err := json.Unmarshal(cc.Context, &c); err != nil {
			return fmt.Errorf("conf change context: %w", err)
		}
		m := c.Member
		old, ok := n.members.get(m.ID)
		if !ok {
			return ErrIDNotFound
		}
		if n.members.peerURLUsed(m.PeerURLs, m.ID) {
			return ErrPeerURLExist
		}
		old.PeerURLs = m.PeerURLs
		metas = append(metas, n.members.set(old))
		if m.ID != n.id {
			n.cfg.Transport.UpdatePeer(m.ID, m.PeerURLs)
		}
	}
	s := n.Store()
	s.SetApplied(index)
	if err := s.CommitMeta(metas...); err != nil {
		r.fatal("record a membership change", err)
	}
	return nil
}

// errRejected stands for a refusal recorded earlier, found again on a replay.
var errRejected = errors.New("conf change refused when first applied")

// rejected reports whether the conf change at index was refused when first applied.
func (r *raftNode) rejected(index uint64) bool {
	_, ok := r.n.DB().Meta(idKey(rejectedMetaPrefix, index))
	return ok
}

func (n *Node) learners() int {
	c := 0
	for _, m := range n.members.list() {
		if m.IsLearner {
			c++
		}
	}
	return c
}

// applyAttrs records a member's published name and client URLs.
func (n *Node) applyAttrs(id uint64, name string, clientURLs []string) error {
	m, ok := n.members.get(id)
	if !ok {
		return nil // removed meanwhile: nothing to record, as etcd
	}
	m.Name, m.ClientURLs = name, clientURLs
	return n.Store().CommitMeta(n.members.set(m))
}

// maybeSnapshot takes a snapshot every SnapshotCount applied entries. The state is already
// in the backend, so a snapshot is: record the applied index, flush the backend (in the
// background, while applies go on), then truncate the log behind that index (the Raft loop
// does, as it owns the log).
func (r *raftNode) maybeSnapshot() {
	n := r.n
	applied := n.applied.Load()
	if r.snapping.Load() || (applied-r.snapIndex < n.cfg.SnapshotCount && !(r.forceSnap && applied > r.snapIndex)) {
		return
	}
	r.forceSnap = false
	s := n.Store()
	// So that the flushed backend records at least this index, even if the last entries
	// changed nothing in it.
	if s.Applied() < applied {
		s.SetApplied(applied)
		if err := s.SaveApplied(); err != nil {
			n.log.Error("snapshot failed", "error", err)
			return
		}
	}
	cs := r.confState
	r.snapping.Store(true)
	r.snapIndex = applied
	db := n.DB()
	n.wg.Add(1) // the applier runs, so Stop's Wait has not returned: Add is safe
	go func() {
		defer n.wg.Done()
		res := snapResult{}
		if res.err = db.Flush(); res.err == nil {
			var snap raftpb.Snapshot
			snap, res.err = r.storage.CreateSnapshot(applied, &cs, nil)
			res.meta = snap.Metadata
		}
		select {
		case r.snapDone <- res:
		case <-n.stopc:
		}
	}()
}
