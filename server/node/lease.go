package node

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
)

// LeaseGrant picks the lease ID before proposing, so that every member applies the same one.
func (n *Node) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	req := *r
	for req.ID == 0 {
		req.ID = n.ids.Next()
	}
	resp, err := n.propose(ctx, &pb.InternalRaftRequest{LeaseGrant: &req})
	if err != nil {
		return nil, err
	}
	return pbconv.LeaseGrantResponse(resp.(*core.LeaseGrantResponse), n.Header()), nil
}

func (n *Node) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	resp, err := n.propose(ctx, &pb.InternalRaftRequest{LeaseRevoke: r})
	if err != nil {
		return nil, err
	}
	return pbconv.LeaseRevokeResponse(resp.(*core.LeaseRevokeResponse), n.Header()), nil
}

// LeaseRenew is a keep-alive; it does not go through the log, as in etcd. Only the leader
// keeps lease deadlines, so a follower forwards it there.
func (n *Node) LeaseRenew(ctx context.Context, id int64) (*pb.LeaseKeepAliveResponse, error) {
	if lead, err := n.leaderLeases(ctx); err != nil {
		return nil, err
	} else if lead {
		return pbconv.LeaseKeepAliveResponse(n.Store().LeaseKeepAlive(id), n.Header()), nil
	}
	b, err := n.forward(ctx, binary.BigEndian.AppendUint64([]byte{fwdKeepAlive}, uint64(id)))
	if err != nil {
		return nil, err
	}
	if len(b) != 8 {
		return nil, errors.New("node: bad keep-alive answer from the leader")
	}
	return pbconv.LeaseKeepAliveResponse(&core.LeaseKeepAliveResponse{Header: core.ResponseHeader{Revision: n.Store().Rev()}, ID: id, TTL: int64(binary.BigEndian.Uint64(b))}, n.Header()), nil
}

// LeaseTimeToLive answers from the leader's deadlines (forwarded there from a follower).
func (n *Node) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	if lead, err := n.leaderLeases(ctx); err != nil {
		return nil, err
	} else if lead {
		return pbconv.LeaseTimeToLiveResponse(n.Store().LeaseTimeToLive(r.ID, r.Keys), n.Header()), nil
	}
	req, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	b, err := n.forward(ctx, append([]byte{fwdTimeToLive}, req...))
	if err != nil {
		return nil, err
	}
	var resp pb.LeaseTimeToLiveResponse
	if err := resp.Unmarshal(b); err != nil {
		return nil, err
	}
	resp.Header = n.Header().PB(n.Store().Rev())
	return &resp, nil
}

func (n *Node) LeaseLeases(ctx context.Context) (*pb.LeaseLeasesResponse, error) {
	return pbconv.LeaseLeasesResponse(n.Store().LeaseLeases(), n.Header()), nil
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
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-n.stopc:
			t.Stop()
			return false, pbconv.ErrStopped
		}
	}
	return false, nil
}
