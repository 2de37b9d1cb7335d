package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/raftreq"
)

// DefaultCompactHashCheckTime is how often the leader compares compaction hashes, etcd's
// --compact-hash-check-time default.
const DefaultCompactHashCheckTime = time.Minute

// compactHashCheck is etcd's CompactHashCheck (server/etcdserver/corrupt.go): every period
// the leader takes the hashes its store remembers from its last compactions, newest first,
// and asks every other member for its hash at the same revision. A compaction hash covers
// the history the compaction dropped, so members that applied the same log agree on it; one
// that does not hold the same history raises the CORRUPT alarm, which stops writes on every
// member until an operator clears it. As in etcd, a member that does not answer, or whose
// compact revision differs (its hash is then not the compaction's), is skipped; the first
// revision every member answered for ends the round, and later rounds look only at newer
// compactions.
func (n *Node) compactHashCheck(every time.Duration) {
	t := n.cfg.Clock.NewTicker(every)
	defer t.Stop()
	var checked int64 // the newest revision every member agreed on
	for {
		select {
		case <-n.stopc:
			return
		case <-t.C():
		}
		if !n.IsLeader() {
			continue
		}
		for _, h := range n.Store().CompactionHashes() {
			if h.HashRevision <= checked {
				break
			}
			peers := n.peerHashes(h.HashRevision)
			if len(peers) == 0 {
				continue
			}
			if done, all := n.compareHashes(h, peers); done {
				if all {
					checked = h.HashRevision
				}
				break
			}
		}
	}
}

// peerHash is one member's answer (resp nil: none).
type peerHash struct {
	id   uint64
	resp *core.HashKVResponse
}

// peerHashes asks every other member for its HashKV at rev, all at once, each within the
// request timeout (as etcd gives each its own): a slow member does not make the others
// miss the round.
func (n *Node) peerHashes(rev int64) []peerHash {
	var out []peerHash
	for _, m := range n.Members() {
		if m.ID != n.id {
			out = append(out, peerHash{id: m.ID})
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), n.requestTimeout())
			defer cancel()
			b, err := n.cfg.Transport.Forward(ctx, out[i].id, binary.BigEndian.AppendUint64([]byte{fwdHashKV}, uint64(rev)))
			if err == nil {
				out[i].resp, err = decodePeerHash(b)
			}
			if err != nil {
				n.log.Warn("compaction hash check: no hash from a member", "member", fmt.Sprintf("%x", out[i].id), "revision", rev, "error", err)
			}
		}()
	}
	wg.Wait()
	return out
}

// compareHashes is etcd's checkPeerHashes: done says whether the round ends here (all
// members agreed or a mismatch was found), all whether every member was checked.
func (n *Node) compareHashes(lead core.HashKVResponse, peers []peerHash) (done, all bool) {
	byHash := map[uint32][]uint64{lead.Hash: {n.id}}
	checked := 0
	for _, p := range peers {
		if p.resp == nil || p.resp.CompactRevision != lead.CompactRevision {
			continue
		}
		checked++
		byHash[p.resp.Hash] = append(byHash[p.resp.Hash], p.id)
	}
	if len(byHash) == 1 {
		if checked == len(peers) {
			n.log.Info("compaction hash check: every member agrees", "revision", lead.HashRevision, "compact-revision", lead.CompactRevision, "hash", lead.Hash)
			return true, true
		}
		return false, false // some were not checked: try an older compaction
	}
	// Members whose hash a majority does not share are the corrupt ones; without a
	// majority, nobody knows which: the alarm names member 0, the whole cluster.
	quorum := (len(peers)+1)/2 + 1
	var corrupt []uint64
	majority := false
	for _, h := range slices.Sorted(maps.Keys(byHash)) {
		if len(byHash[h]) >= quorum {
			majority = true
			continue
		}
		corrupt = append(corrupt, byHash[h]...)
	}
	if !majority {
		corrupt = []uint64{0}
	}
	for _, id := range corrupt {
		if slices.ContainsFunc(n.alarms.list(raftreq.AlarmCorrupt), func(a raftreq.AlarmMember) bool { return a.MemberID == id }) {
			continue // raised already: no entry a period
		}
		n.log.Error("compaction hash check: a member's history differs, raising the CORRUPT alarm",
			"member", fmt.Sprintf("%x", id), "revision", lead.HashRevision, "compact-revision", lead.CompactRevision, "hashes", byHash)
		ctx, cancel := context.WithTimeout(context.Background(), n.requestTimeout())
		n.propose(ctx, &raftreq.Request{Alarm: &raftreq.Alarm{Action: raftreq.AlarmActivate, MemberID: id, Alarm: raftreq.AlarmCorrupt}})
		cancel()
	}
	return true, false
}

// answerPeerHash answers a member's fwdHashKV: this member's HashKV at a revision, as etcd's
// /members/hashkv on the peer port.
func (n *Node) answerPeerHash(req []byte) ([]byte, error) {
	if len(req) != 8 {
		return nil, errors.New("bad hash request")
	}
	rev := int64(binary.BigEndian.Uint64(req))
	s := n.Store()
	if rev <= s.CompactRev() && !slices.ContainsFunc(s.CompactionHashes(), func(h core.HashKVResponse) bool { return h.HashRevision == rev }) {
		// Computed afresh, the hash would carry this compact revision, never the previous
		// one the leader's compaction hash carries: not worth a scan of the whole history
		// (after a restart, which forgets compaction hashes).
		return nil, fmt.Errorf("no compaction hash at %d", rev)
	}
	h, err := s.HashKV(rev)
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint32(nil, h.Hash)
	b = binary.BigEndian.AppendUint64(b, uint64(h.CompactRevision))
	return binary.BigEndian.AppendUint64(b, uint64(h.HashRevision)), nil
}

func decodePeerHash(b []byte) (*core.HashKVResponse, error) {
	if len(b) != 20 {
		return nil, errors.New("bad hash answer")
	}
	return &core.HashKVResponse{Hash: binary.BigEndian.Uint32(b), CompactRevision: int64(binary.BigEndian.Uint64(b[4:])),
		HashRevision: int64(binary.BigEndian.Uint64(b[12:]))}, nil
}
