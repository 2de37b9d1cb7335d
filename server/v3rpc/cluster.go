package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

type clusterServer struct {
	pb.UnimplementedClusterServer
	n *node.Node
}

// header: Cluster responses carry no revision in etcd.
func (s *clusterServer) header() *pb.ResponseHeader {
	return pbconv.ResponseHeader(s.n.Header(), 0)
}

func members(ms []node.Member) []*pb.Member {
	out := make([]*pb.Member, len(ms))
	for i, m := range ms {
		out[i] = member(m)
	}
	return out
}

func member(m node.Member) *pb.Member {
	return &pb.Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner}
}

func (s *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	ms, err := s.n.MemberList(ctx, r.Linearizable)
	if err != nil {
		return nil, err
	}
	return &pb.MemberListResponse{Header: s.header(), Members: members(ms)}, nil
}

func (s *clusterServer) MemberAdd(ctx context.Context, r *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	m, ms, err := s.n.MemberAdd(ctx, r.PeerURLs, r.IsLearner)
	if err != nil {
		return nil, err
	}
	return &pb.MemberAddResponse{Header: s.header(), Member: member(m), Members: members(ms)}, nil
}

func (s *clusterServer) MemberRemove(ctx context.Context, r *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	ms, err := s.n.MemberRemove(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return &pb.MemberRemoveResponse{Header: s.header(), Members: members(ms)}, nil
}

func (s *clusterServer) MemberUpdate(ctx context.Context, r *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	ms, err := s.n.MemberUpdate(ctx, r.ID, r.PeerURLs)
	if err != nil {
		return nil, err
	}
	return &pb.MemberUpdateResponse{Header: s.header(), Members: members(ms)}, nil
}

func (s *clusterServer) MemberPromote(ctx context.Context, r *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	ms, err := s.n.MemberPromote(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return &pb.MemberPromoteResponse{Header: s.header(), Members: members(ms)}, nil
}
