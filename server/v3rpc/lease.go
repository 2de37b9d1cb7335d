package v3rpc

import (
	"context"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

type leaseServer struct {
	pb.UnimplementedLeaseServer
	n *node.Node
}

func (s *leaseServer) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	resp, err := s.n.LeaseGrant(ctx, &core.LeaseGrantRequest{TTL: r.TTL, ID: r.ID})
	if err != nil {
		return nil, err
	}
	return pbconv.LeaseGrantResponse(resp, s.n.Header()), nil
}

func (s *leaseServer) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	resp, err := s.n.LeaseRevoke(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return pbconv.LeaseRevokeResponse(resp, s.n.Header()), nil
}

func (s *leaseServer) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	resp, err := s.n.LeaseTimeToLive(ctx, r.ID, r.Keys)
	if err != nil {
		return nil, err
	}
	return pbconv.LeaseTimeToLiveResponse(resp, s.n.Header()), nil
}

func (s *leaseServer) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	resp, err := s.n.LeaseLeases(ctx)
	if err != nil {
		return nil, err
	}
	return pbconv.LeaseLeasesResponse(resp, s.n.Header()), nil
}

// LeaseKeepAlive answers each request with the renewed TTL (0 for an unknown lease). When
// the client goes away, etcd ends the stream with "no leader", and so do we.
func (s *leaseServer) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	// In the stream's own goroutine, not one more per stream as etcd's: etcd's benchmark
	// opens a stream per keep-alive, and a new goroutine grows its stack again on the way
	// down Recv. Recv, LeaseRenew and Send all return once the stream's context is done.
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err == nil {
			var resp *core.LeaseKeepAliveResponse
			if resp, err = s.n.LeaseRenew(ctx, req.ID); err == nil {
				err = stream.Send(pbconv.LeaseKeepAliveResponse(resp, s.n.Header()))
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return node.ErrNoLeader
			}
			return err
		}
	}
}
