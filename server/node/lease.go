package node

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/server/raftreq"
)

// LeaseGrant picks the lease ID before proposing, so that every member applies the same one.
func (n *Node) LeaseGrant(ctx context.Context, r *core.LeaseGrantRequest) (*core.LeaseGrantResponse, error) {
	if err := n.CheckAuthenticated(ctx); err != nil {
		return nil, err
	}
	req := *r
	for req.ID == 0 {
		req.ID = n.ids.Next()
	}
	return proposeFor[*core.LeaseGrantResponse](ctx, n, &raftreq.Request{LeaseGrant: &req})
}

// LeaseRevoke needs a user here, and the right to write every key of the lease when it is
// applied.
func (n *Node) LeaseRevoke(ctx context.Context, id int64) (*core.LeaseRevokeResponse, error) {
	if err := n.CheckAuthenticated(ctx); err != nil {
		return nil, err
	}
	return proposeFor[*core.LeaseRevokeResponse](ctx, n, &raftreq.Request{LeaseRevoke: &raftreq.LeaseRevoke{ID: id}})
}

// LeaseRenew is a keep-alive; it does not go through the log, as in etcd. Only the leader
// keeps lease deadlines, so a follower forwards it there.
func (n *Node) LeaseRenew(ctx context.Context, id int64) (*core.LeaseKeepAliveResponse, error) {
	ai, err := n.authInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.Store().CheckLeaseKeepAlive(ai, id); err != nil {
		return nil, err
	}
	if lead, err := n.leaderLeases(ctx); err != nil {
		return nil, err
	} else if lead {
		return n.renew(ctx, id)
	}
	b, err := n.forward(ctx, binary.BigEndian.AppendUint64([]byte{fwdKeepAlive}, uint64(id)))
	if err != nil {
		return nil, err
	}
	if len(b) != 8 {
		return nil, errors.New("node: bad keep-alive answer from the leader")
	}
	return &core.LeaseKeepAliveResponse{Header: core.ResponseHeader{Revision: n.Store().Rev()}, ID: id, TTL: int64(binary.BigEndian.Uint64(b))}, nil
}

// renew is the leader's keep-alive. A lease with a checkpoint has it cleared through the log
// first, as etcd does, so that a new leader gives the renewed lease its full TTL (at most two
// log entries per lease and checkpoint interval).
func (n *Node) renew(ctx context.Context, id int64) (*core.LeaseKeepAliveResponse, error) {
	if err := n.waitCommittedApplied(ctx); err != nil {
		return nil, err
	}
	if n.Store().LeaseCheckpointed(id) {
		clear := &raftreq.LeaseCheckpoints{Checkpoints: []core.LeaseCheckpoint{{ID: id}}}
		if _, err := n.propose(ctx, &raftreq.Request{LeaseCheckpoint: clear}); err != nil {
			return nil, err
		}
	}
	return n.Store().LeaseKeepAlive(id), nil
}

// checkpointLeases is the leader's checkpoint duty: every interval, the remaining TTL of each
// lease longer than the interval goes through the log (batches of 1000, as etcd's), so that
// a new leader neither cuts a lease short nor, leader change after leader change, keeps it
// alive for ever.
func (n *Node) checkpointLeases(interval time.Duration) {
	n.leaderDuty(interval, func() {
		var cps []core.LeaseCheckpoint
		for _, e := range n.Store().Lessor().Entries() {
			if e.TTL*int64(time.Second) > int64(interval) && e.Remaining > 0 {
				cps = append(cps, core.LeaseCheckpoint{ID: e.ID, RemainingTTL: int64((e.Remaining + time.Second - 1) / time.Second)})
			}
		}
		for len(cps) > 0 {
			batch := cps[:min(len(cps), 1000)]
			cps = cps[len(batch):]
			err := n.proposeDuty(&raftreq.Request{LeaseCheckpoint: &raftreq.LeaseCheckpoints{Checkpoints: batch}})
			if err != nil && !errors.Is(err, ErrStopped) {
				n.log.Warn("lease checkpoint failed", "leases", len(batch), "error", err)
				return
			}
		}
	})
}

// LeaseTimeToLive answers from the leader's deadlines (forwarded there from a follower).
func (n *Node) LeaseTimeToLive(ctx context.Context, id int64, keys bool) (*core.LeaseTimeToLiveResponse, error) {
	var shown []int64 // the leases whose keys the answer shows
	if keys {
		shown = []int64{id}
	}
	if err := n.checkLeaseRead(ctx, shown...); err != nil {
		return nil, err
	}
	if lead, err := n.leaderLeases(ctx); err != nil {
		return nil, err
	} else if lead {
		if err := n.waitCommittedApplied(ctx); err != nil {
			return nil, err
		}
		return n.Store().LeaseTimeToLive(id, keys), nil
	}
	b, err := n.forward(ctx, append([]byte{fwdTimeToLive}, raftreq.MarshalTTLQuery(id, keys)...))
	if err != nil {
		return nil, err
	}
	resp, err := raftreq.UnmarshalTTLAnswer(b)
	if err != nil {
		return nil, err
	}
	resp.Header.Revision = n.Store().Rev()
	return resp, nil
}

// LeaseLeases lists the leases to someone who may read every key on them.
func (n *Node) LeaseLeases(ctx context.Context) (*core.LeaseLeasesResponse, error) {
	resp := n.Store().LeaseLeases()
	if err := n.checkLeaseRead(ctx, resp.Leases...); err != nil {
		return nil, err
	}
	return resp, nil
}

// checkLeaseRead refuses a lease query from a caller without credentials, or one who may
// not read every key of the leases ids.
func (n *Node) checkLeaseRead(ctx context.Context, ids ...int64) error {
	ai, err := n.authInfo(ctx)
	if err != nil {
		return err
	}
	return n.Store().CheckLeaseRead(ai, ids...)
}

// leaderLeases reports whether this member leads with its lease deadlines promoted for its
// term. A new leader's deadlines are stale (keep-alives went to the old one) until it has
// applied its first entry and extended them: a keep-alive arriving in between waits, rather
// than find a lease "expired" that the old leader kept alive.
func (n *Node) leaderLeases(ctx context.Context) (bool, error) {
	for n.IsLeader() {
		if n.leasesPromoted.Load() {
			return true, nil
		}
		wait, stop := clock.After(n.cfg.Clock, 10*time.Millisecond)
		select {
		case <-wait:
			stop()
		case <-ctx.Done():
			stop()
			return false, ctx.Err()
		case <-n.stopc:
			stop()
			return false, ErrStopped
		}
	}
	return false, nil
}

// waitCommittedApplied waits until the leader has applied everything committed so far (etcd's
// waitAppliedIndex): a lease granted through a follower that applied the grant first is then
// known here too, rather than "not found".
func (n *Node) waitCommittedApplied(ctx context.Context) error {
	applied := n.w.appliedAt(n.CommittedIndex())
	select {
	case <-applied:
		return nil // the usual case, without a timer
	default:
	}
	expired, stop := clock.After(n.cfg.Clock, time.Second) // etcd's applyTimeout
	defer stop()
	select {
	case <-applied:
		return nil
	case <-expired:
		return ErrTimeoutWaitAppliedIndex
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}
