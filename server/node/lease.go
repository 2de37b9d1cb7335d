package node

import (
	"context"

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

// LeaseRenew is the leader's keep-alive; it does not go through the log, as in etcd.
func (n *Node) LeaseRenew(id int64) *pb.LeaseKeepAliveResponse {
	return pbconv.LeaseKeepAliveResponse(n.store.LeaseKeepAlive(id), n.Header())
}

func (n *Node) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	return pbconv.LeaseTimeToLiveResponse(n.store.LeaseTimeToLive(r.ID, r.Keys), n.Header()), nil
}

func (n *Node) LeaseLeases(ctx context.Context) (*pb.LeaseLeasesResponse, error) {
	return pbconv.LeaseLeasesResponse(n.store.LeaseLeases(), n.Header()), nil
}
