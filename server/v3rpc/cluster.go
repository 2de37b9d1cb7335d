package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/server/node"
)

type clusterServer struct {
	pb.UnimplementedClusterServer
	n *node.Node
}

func (s *clusterServer) header() *pb.ResponseHeader {
	h := s.n.Header()
	// Cluster responses carry no revision in etcd.
	return &pb.ResponseHeader{ClusterId: h.ClusterID, MemberId: h.MemberID, RaftTerm: h.RaftTerm}
}

func (s *clusterServer) members() []*pb.Member {
	c := s.n.Config()
	return []*pb.Member{{ID: s.n.Header().MemberID, Name: c.Name, PeerURLs: c.PeerURLs, ClientURLs: c.ClientURLs}}
}

func (s *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	return &pb.MemberListResponse{Header: s.header(), Members: s.members()}, nil
}

var errMembership = status.Error(codes.Unimplemented, "metastore: membership changes are not supported yet")

func (s *clusterServer) MemberAdd(context.Context, *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	return nil, errMembership
}

func (s *clusterServer) MemberRemove(context.Context, *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	return nil, errMembership
}

func (s *clusterServer) MemberUpdate(context.Context, *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	return nil, errMembership
}

func (s *clusterServer) MemberPromote(context.Context, *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	return nil, errMembership
}
