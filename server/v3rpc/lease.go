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
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err == io.EOF {
				errc <- nil
				return
			}
			if err != nil {
				errc <- err
				return
			}
			resp, err := s.n.LeaseRenew(stream.Context(), req.ID)
			if err != nil {
				errc <- err
				return
			}
			if err := stream.Send(pbconv.LeaseKeepAliveResponse(resp, s.n.Header())); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-stream.Context().Done():
		return node.ErrNoLeader
	}
}
