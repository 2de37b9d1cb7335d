package node

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
)

// Range reads. A read needs no proposal: a linearizable one first makes sure (ReadIndex)
// this member has applied every write acknowledged before it; a serializable one reads the
// local state as it is.
func (n *Node) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if !r.Serializable {
		if err := n.LinearizableRead(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := n.Store().Range(pbconv.RangeRequest(r))
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
		if !txnSerializable(r) {
			if err := n.LinearizableRead(ctx); err != nil {
				return nil, err
			}
		}
		resp, err = n.Store().Txn(pbconv.TxnRequest(r))
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

// txnSerializable reports whether every range of a read-only txn is serializable (etcd then
// skips the linearizable wait).
func txnSerializable(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if rr := op.GetRequestRange(); rr != nil && !rr.Serializable {
				return false
			}
			if t := op.GetRequestTxn(); t != nil && !txnSerializable(t) {
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
