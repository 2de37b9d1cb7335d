package pbconv

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/server/node"
)

// Header is the member's part of a response header: cluster, member and term.
type Header = node.Header

// ResponseHeader is the one header builder: the member's part and the revision.
func ResponseHeader(h *Header, rev int64) *pb.ResponseHeader {
	return &pb.ResponseHeader{ClusterId: h.ClusterID, MemberId: h.MemberID, Revision: rev, RaftTerm: h.RaftTerm}
}

// KeyValue converts a core KeyValue.
func KeyValue(k *kv.KeyValue) *mvccpb.KeyValue {
	if k == nil {
		return nil
	}
	return &mvccpb.KeyValue{
		Key: k.Key, CreateRevision: k.CreateRevision, ModRevision: k.ModRevision,
		Version: k.Version, Value: k.Value, Lease: k.Lease,
	}
}

func keyValues(kvs []kv.KeyValue) []*mvccpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*mvccpb.KeyValue, len(kvs))
	backing := make([]mvccpb.KeyValue, len(kvs))
	for i := range kvs {
		k := &kvs[i]
		backing[i] = mvccpb.KeyValue{
			Key: k.Key, CreateRevision: k.CreateRevision, ModRevision: k.ModRevision,
			Version: k.Version, Value: k.Value, Lease: k.Lease,
		}
		out[i] = &backing[i]
	}
	return out
}

func RangeRequest(r *pb.RangeRequest) *core.RangeRequest {
	return &core.RangeRequest{
		Key: r.Key, RangeEnd: r.RangeEnd, Limit: r.Limit, Revision: r.Revision,
		SortOrder: core.SortOrder(r.SortOrder), SortTarget: core.SortTarget(r.SortTarget),
		Serializable: r.Serializable, KeysOnly: r.KeysOnly, CountOnly: r.CountOnly,
		MinModRevision: r.MinModRevision, MaxModRevision: r.MaxModRevision,
		MinCreateRevision: r.MinCreateRevision, MaxCreateRevision: r.MaxCreateRevision,
	}
}

// RangeResponse converts a response; a nil hdr leaves only the revision (as in a txn).
func RangeResponse(r *core.RangeResponse, hdr *Header) *pb.RangeResponse {
	return &pb.RangeResponse{Header: header(hdr, r.Header), Kvs: keyValues(r.Kvs), More: r.More, Count: r.Count}
}

func header(hdr *Header, h core.ResponseHeader) *pb.ResponseHeader {
	if hdr == nil {
		return &pb.ResponseHeader{Revision: h.Revision}
	}
	return ResponseHeader(hdr, h.Revision)
}

func PutRequest(r *pb.PutRequest) *core.PutRequest {
	return &core.PutRequest{
		Key: r.Key, Value: r.Value, Lease: r.Lease, PrevKv: r.PrevKv,
		IgnoreValue: r.IgnoreValue, IgnoreLease: r.IgnoreLease,
	}
}

func PutResponse(r *core.PutResponse, hdr *Header) *pb.PutResponse {
	return &pb.PutResponse{Header: header(hdr, r.Header), PrevKv: KeyValue(r.PrevKv)}
}

func DeleteRangeRequest(r *pb.DeleteRangeRequest) *core.DeleteRangeRequest {
	return &core.DeleteRangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, PrevKv: r.PrevKv}
}

func DeleteRangeResponse(r *core.DeleteRangeResponse, hdr *Header) *pb.DeleteRangeResponse {
	return &pb.DeleteRangeResponse{Header: header(hdr, r.Header), Deleted: r.Deleted, PrevKvs: keyValues(r.PrevKvs)}
}

func Compare(c *pb.Compare) core.Compare {
	out := core.Compare{
		Result: core.CompareResult(c.Result), Target: core.CompareTarget(c.Target),
		Key: c.Key, RangeEnd: c.RangeEnd,
	}
	switch u := c.TargetUnion.(type) {
	case *pb.Compare_Version:
		out.Version = u.Version
	case *pb.Compare_CreateRevision:
		out.CreateRevision = u.CreateRevision
	case *pb.Compare_ModRevision:
		out.ModRevision = u.ModRevision
	case *pb.Compare_Value:
		out.Value = u.Value
	case *pb.Compare_Lease:
		out.Lease = u.Lease
	}
	return out
}

func TxnRequest(r *pb.TxnRequest) *core.TxnRequest {
	out := &core.TxnRequest{
		Compare: make([]core.Compare, len(r.Compare)),
		Success: requestOps(r.Success),
		Failure: requestOps(r.Failure),
	}
	for i, c := range r.Compare {
		if c != nil {
			out.Compare[i] = Compare(c)
		}
	}
	return out
}

func requestOps(ops []*pb.RequestOp) []core.RequestOp {
	if len(ops) == 0 {
		return nil
	}
	out := make([]core.RequestOp, len(ops))
	for i, op := range ops {
		if op == nil {
			continue
		}
		switch u := op.Request.(type) {
		case *pb.RequestOp_RequestRange:
			if u.RequestRange != nil {
				out[i].Range = RangeRequest(u.RequestRange)
			}
		case *pb.RequestOp_RequestPut:
			if u.RequestPut != nil {
				out[i].Put = PutRequest(u.RequestPut)
			}
		case *pb.RequestOp_RequestDeleteRange:
			if u.RequestDeleteRange != nil {
				out[i].DeleteRange = DeleteRangeRequest(u.RequestDeleteRange)
			}
		case *pb.RequestOp_RequestTxn:
			if u.RequestTxn != nil {
				out[i].Txn = TxnRequest(u.RequestTxn)
			}
		}
	}
	return out
}

// TxnResponse converts a txn response. Nested responses carry only a revision header, and
// nested txns a zero one, as etcd's do.
func TxnResponse(r *core.TxnResponse, hdr *Header) *pb.TxnResponse {
	out := &pb.TxnResponse{Header: header(hdr, r.Header), Succeeded: r.Succeeded}
	if len(r.Responses) > 0 {
		out.Responses = make([]*pb.ResponseOp, len(r.Responses))
	}
	for i := range r.Responses {
		op := &r.Responses[i]
		var resp pb.ResponseOp
		switch {
		case op.Range != nil:
			resp.Response = &pb.ResponseOp_ResponseRange{ResponseRange: RangeResponse(op.Range, nil)}
		case op.Put != nil:
			resp.Response = &pb.ResponseOp_ResponsePut{ResponsePut: PutResponse(op.Put, nil)}
		case op.DeleteRange != nil:
			resp.Response = &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: DeleteRangeResponse(op.DeleteRange, nil)}
		case op.Txn != nil:
			resp.Response = &pb.ResponseOp_ResponseTxn{ResponseTxn: TxnResponse(op.Txn, nil)}
		}
		out.Responses[i] = &resp
	}
	if hdr == nil {
		out.Header = &pb.ResponseHeader{}
	}
	return out
}

func CompactionResponse(r *core.CompactionResponse, hdr *Header) *pb.CompactionResponse {
	return &pb.CompactionResponse{Header: header(hdr, r.Header)}
}
