package node

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
)

// Range reads. A read needs no proposal: with one member the local state is linearizable.
func (n *Node) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	resp, err := n.store.Range(pbconv.RangeRequest(r))
	if err != nil {
		return nil, err
	}
	return pbconv.RangeResponse(resp, n.Header()), nil
}

func (n *Node) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	resp, err := n.propose(ctx, &pb.InternalRaftRequest{Put: r})
	if err != nil {
		return nil, err
	}
	return pbconv.PutResponse(resp.(*core.PutResponse), n.Header()), nil
}

func (n *Node) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp, err := n.propose(ctx, &pb.InternalRaftRequest{DeleteRange: r})
	if err != nil {
		return nil, err
	}
	return pbconv.DeleteRangeResponse(resp.(*core.DeleteRangeResponse), n.Header()), nil
}

// Txn runs a txn; one that only reads is served like a read, without a proposal.
func (n *Node) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	var resp any
	var err error
	if txnReadOnly(r) {
		resp, err = n.store.Txn(pbconv.TxnRequest(r))
	} else {
		resp, err = n.propose(ctx, &pb.InternalRaftRequest{Txn: r})
	}
	if err != nil {
		return nil, err
	}
	return pbconv.TxnResponse(resp.(*core.TxnResponse), n.Header()), nil
}

func txnReadOnly(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			switch {
			case op.GetRequestPut() != nil, op.GetRequestDeleteRange() != nil:
				return false
			case op.GetRequestTxn() != nil && !txnReadOnly(op.GetRequestTxn()):
				return false
			}
		}
	}
	return true
}

func (n *Node) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := n.propose(ctx, &pb.InternalRaftRequest{Compaction: r})
	if err != nil {
		return nil, err
	}
	return pbconv.CompactionResponse(resp.(*core.CompactionResponse), n.Header()), nil
}
