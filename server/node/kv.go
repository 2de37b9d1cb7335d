package node

import (
	"context"
	"fmt"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/raftreq"
)

// Range reads. A read needs no proposal: a linearizable one first makes sure (ReadIndex)
// this member has applied every write acknowledged before it; a serializable one reads the
// local state as it is.
//
// Every request is validated first, as etcd's gRPC layer does: a malformed one costs no
// proposal and gets its own error whoever sends it. A read's permissions are checked here; a
// write's when it is applied (checkApply), against the auth store as it is then.
func (n *Node) Range(ctx context.Context, r *core.RangeRequest) (*core.RangeResponse, error) {
	if err := core.ValidateRange(r); err != nil {
		return nil, err
	}
	if !r.Serializable {
		if err := n.LinearizableRead(ctx); err != nil {
			return nil, err
		}
	}
	s := n.Store()
	ai, err := n.authInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.CheckRange(ai, r.Key, r.RangeEnd); err != nil {
		return nil, err
	}
	return s.Range(r)
}

func (n *Node) Put(ctx context.Context, r *core.PutRequest) (*core.PutResponse, error) {
	if err := core.ValidatePut(r); err != nil {
		return nil, err
	}
	return proposeFor[*core.PutResponse](ctx, n, &raftreq.Request{Put: r})
}

func (n *Node) DeleteRange(ctx context.Context, r *core.DeleteRangeRequest) (*core.DeleteRangeResponse, error) {
	if err := core.ValidateDeleteRange(r); err != nil {
		return nil, err
	}
	return proposeFor[*core.DeleteRangeResponse](ctx, n, &raftreq.Request{DeleteRange: r})
}

// Txn runs a txn; one that only reads is served like a read, without a proposal.
func (n *Node) Txn(ctx context.Context, r *core.TxnRequest) (*core.TxnResponse, error) {
	s := n.Store()
	if err := s.ValidateTxn(r); err != nil {
		return nil, err
	}
	if !core.TxnReadOnly(r) {
		return proposeFor[*core.TxnResponse](ctx, n, &raftreq.Request{Txn: r})
	}
	if !txnSerializable(r) {
		if err := n.LinearizableRead(ctx); err != nil {
			return nil, err
		}
	}
	ai, err := n.authInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.CheckTxn(ai, r); err != nil {
		return nil, err
	}
	return s.Txn(r)
}

// txnSerializable reports whether every range of a read-only txn is serializable (etcd then
// skips the linearizable wait).
func txnSerializable(r *core.TxnRequest) bool {
	for _, ops := range [][]core.RequestOp{r.Success, r.Failure} {
		for _, op := range ops {
			if op.Range != nil && !op.Range.Serializable {
				return false
			}
			if op.Txn != nil && !txnSerializable(op.Txn) {
				return false
			}
		}
	}
	return true
}

func (n *Node) Compact(ctx context.Context, r *core.CompactionRequest) (*core.CompactionResponse, error) {
	if err := n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	resp, err := proposeFor[*core.CompactionResponse](ctx, n, &raftreq.Request{Compaction: r})
	if err != nil || resp.PhysicalDone == nil {
		return resp, err
	}
	// physical: answer once the deletes are in this member's backend, as etcd does.
	select {
	case <-resp.PhysicalDone:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.stopc:
		return nil, ErrStopped
	}
}

// proposeFor proposes r and returns what applying it produced, as R.
func proposeFor[R any](ctx context.Context, n *Node, r *raftreq.Request) (R, error) {
	var zero R
	if err := n.withAuthInfo(ctx, r); err != nil {
		return zero, err
	}
	resp, err := n.propose(ctx, r)
	if err != nil {
		return zero, err
	}
	out, ok := resp.(R)
	if !ok {
		return zero, fmt.Errorf("node: applying %T produced %T", zero, resp)
	}
	return out, nil
}
