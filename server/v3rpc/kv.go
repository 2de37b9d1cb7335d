package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

// kvServer translates at the edge: etcd's messages in, the member's core types through,
// etcd's messages with the member's header out.
type kvServer struct {
	pb.UnimplementedKVServer
	n *node.Node
}

func (s *kvServer) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	resp, err := s.n.Range(ctx, pbconv.RangeRequest(r))
	if err != nil {
		return nil, err
	}
	return pbconv.RangeResponse(resp, s.n.Header()), nil
}

func (s *kvServer) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	resp, err := s.n.Put(ctx, pbconv.PutRequest(r))
	if err != nil {
		return nil, err
	}
	return pbconv.PutResponse(resp, s.n.Header()), nil
}

func (s *kvServer) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp, err := s.n.DeleteRange(ctx, pbconv.DeleteRangeRequest(r))
	if err != nil {
		return nil, err
	}
	return pbconv.DeleteRangeResponse(resp, s.n.Header()), nil
}

func (s *kvServer) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	resp, err := s.n.Txn(ctx, pbconv.TxnRequest(r))
	if err != nil {
		return nil, err
	}
	return pbconv.TxnResponse(resp, s.n.Header()), nil
}

func (s *kvServer) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := s.n.Compact(ctx, &core.CompactionRequest{Revision: r.Revision, Physical: r.Physical})
	if err != nil {
		return nil, err
	}
	return pbconv.CompactionResponse(resp, s.n.Header()), nil
}

// kvFor is the KV service on n, for the services built on it (election, lock).
func kvFor(n *node.Node) *kvServer { return &kvServer{n: n} }
