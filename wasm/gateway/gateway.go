// Package gateway converts between etcd's JSON gateway shapes (proto field names, []byte as
// base64, the encoding/json way, int64 as strings, enums as numbers) and the core's types:
// what the tab's WebAssembly modules (the single store, wasm/, and the in-tab cluster,
// wasm/cluster/tab) take and return, so a page talks to them and to a server's /v3/ gateway
// alike.
package gateway

import (
	"strconv"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

// Int64 writes n as the gateway does: a decimal string.
func Int64(n int64) string { return strconv.FormatInt(n, 10) }

// Header is a response header; the tab's store fills only the revision.
func Header(h core.ResponseHeader) map[string]any {
	return map[string]any{"revision": Int64(h.Revision)}
}

// RangeRequest is etcdserverpb.RangeRequest in JSON.
type RangeRequest struct {
	Key               []byte `json:"key"`
	RangeEnd          []byte `json:"range_end"`
	Limit             int64  `json:"limit,string"`
	Revision          int64  `json:"revision,string"`
	SortOrder         int32  `json:"sort_order"`
	SortTarget        int32  `json:"sort_target"`
	Serializable      bool   `json:"serializable"`
	KeysOnly          bool   `json:"keys_only"`
	CountOnly         bool   `json:"count_only"`
	MinModRevision    int64  `json:"min_mod_revision,string"`
	MaxModRevision    int64  `json:"max_mod_revision,string"`
	MinCreateRevision int64  `json:"min_create_revision,string"`
	MaxCreateRevision int64  `json:"max_create_revision,string"`
}

func (r *RangeRequest) Core() *core.RangeRequest {
	return &core.RangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, Limit: r.Limit, Revision: r.Revision,
		SortOrder: core.SortOrder(r.SortOrder), SortTarget: core.SortTarget(r.SortTarget), Serializable: r.Serializable,
		KeysOnly: r.KeysOnly, CountOnly: r.CountOnly, MinModRevision: r.MinModRevision, MaxModRevision: r.MaxModRevision,
		MinCreateRevision: r.MinCreateRevision, MaxCreateRevision: r.MaxCreateRevision}
}

// PutRequest is etcdserverpb.PutRequest in JSON.
type PutRequest struct {
	Key         []byte `json:"key"`
	Value       []byte `json:"value"`
	Lease       int64  `json:"lease,string"`
	PrevKv      bool   `json:"prev_kv"`
	IgnoreValue bool   `json:"ignore_value"`
	IgnoreLease bool   `json:"ignore_lease"`
}

func (r *PutRequest) Core() *core.PutRequest {
	return &core.PutRequest{Key: r.Key, Value: r.Value, Lease: r.Lease, PrevKv: r.PrevKv,
		IgnoreValue: r.IgnoreValue, IgnoreLease: r.IgnoreLease}
}

// DeleteRequest is etcdserverpb.DeleteRangeRequest in JSON.
type DeleteRequest struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end"`
	PrevKv   bool   `json:"prev_kv"`
}

func (r *DeleteRequest) Core() *core.DeleteRangeRequest {
	return &core.DeleteRangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, PrevKv: r.PrevKv}
}

// Compare is one of a txn's comparisons.
type Compare struct {
	Result         int32  `json:"result"`
	Target         int32  `json:"target"`
	Key            []byte `json:"key"`
	RangeEnd       []byte `json:"range_end"`
	Version        int64  `json:"version,string"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
	Value          []byte `json:"value"`
	Lease          int64  `json:"lease,string"`
}

// RequestOp is one request of a txn (or of a batch).
type RequestOp struct {
	Range       *RangeRequest  `json:"request_range"`
	Put         *PutRequest    `json:"request_put"`
	DeleteRange *DeleteRequest `json:"request_delete_range"`
	Txn         *TxnRequest    `json:"request_txn"`
}

// TxnRequest is etcdserverpb.TxnRequest in JSON.
type TxnRequest struct {
	Compare []Compare   `json:"compare"`
	Success []RequestOp `json:"success"`
	Failure []RequestOp `json:"failure"`
}

func (r *TxnRequest) Core() *core.TxnRequest {
	out := &core.TxnRequest{Success: Ops(r.Success), Failure: Ops(r.Failure)}
	for _, c := range r.Compare {
		out.Compare = append(out.Compare, core.Compare{Result: core.CompareResult(c.Result), Target: core.CompareTarget(c.Target),
			Key: c.Key, RangeEnd: c.RangeEnd, Version: c.Version, CreateRevision: c.CreateRevision,
			ModRevision: c.ModRevision, Value: c.Value, Lease: c.Lease})
	}
	return out
}

// Ops converts a txn's requests.
func Ops(in []RequestOp) []core.RequestOp {
	out := make([]core.RequestOp, len(in))
	for i, op := range in {
		switch {
		case op.Range != nil:
			out[i].Range = op.Range.Core()
		case op.Put != nil:
			out[i].Put = op.Put.Core()
		case op.DeleteRange != nil:
			out[i].DeleteRange = op.DeleteRange.Core()
		case op.Txn != nil:
			out[i].Txn = op.Txn.Core()
		}
	}
	return out
}

// WatchCreate is etcdserverpb.WatchCreateRequest in JSON.
type WatchCreate struct {
	Key            []byte  `json:"key"`
	RangeEnd       []byte  `json:"range_end"`
	StartRevision  int64   `json:"start_revision,string"`
	ProgressNotify bool    `json:"progress_notify"`
	Filters        []int32 `json:"filters"`
	PrevKv         bool    `json:"prev_kv"`
}

func (r *WatchCreate) Core() *core.WatchCreateRequest {
	w := &core.WatchCreateRequest{Key: r.Key, RangeEnd: r.RangeEnd, StartRevision: r.StartRevision,
		ProgressNotify: r.ProgressNotify, PrevKv: r.PrevKv}
	for _, f := range r.Filters {
		w.NoPut = w.NoPut || f == 0
		w.NoDelete = w.NoDelete || f == 1
	}
	return w
}

// KV is a key-value in JSON (nil for none).
func KV(k *kv.KeyValue) map[string]any {
	if k == nil {
		return nil
	}
	m := map[string]any{"key": k.Key, "create_revision": Int64(k.CreateRevision), "mod_revision": Int64(k.ModRevision),
		"version": Int64(k.Version)}
	if len(k.Value) > 0 {
		m["value"] = k.Value
	}
	if k.Lease != 0 {
		m["lease"] = Int64(k.Lease)
	}
	return m
}

// KVs converts key-values.
func KVs(kvs []kv.KeyValue) []map[string]any {
	out := make([]map[string]any, len(kvs))
	for i := range kvs {
		out[i] = KV(&kvs[i])
	}
	return out
}

// RangeResponse is etcdserverpb.RangeResponse in JSON.
func RangeResponse(r *core.RangeResponse) map[string]any {
	return map[string]any{"header": Header(r.Header), "kvs": KVs(r.Kvs), "more": r.More, "count": Int64(r.Count)}
}

// PutResponse is etcdserverpb.PutResponse in JSON.
func PutResponse(r *core.PutResponse) map[string]any {
	m := map[string]any{"header": Header(r.Header)}
	if r.PrevKv != nil {
		m["prev_kv"] = KV(r.PrevKv)
	}
	return m
}

// DeleteResponse is etcdserverpb.DeleteRangeResponse in JSON.
func DeleteResponse(r *core.DeleteRangeResponse) map[string]any {
	return map[string]any{"header": Header(r.Header), "deleted": Int64(r.Deleted), "prev_kvs": KVs(r.PrevKvs)}
}

// TxnResponse is etcdserverpb.TxnResponse in JSON.
func TxnResponse(r *core.TxnResponse) map[string]any {
	resps := make([]map[string]any, len(r.Responses))
	for i, op := range r.Responses {
		resps[i] = ResponseOp(op)
	}
	return map[string]any{"header": Header(r.Header), "succeeded": r.Succeeded, "responses": resps}
}

// ResponseOp is one response of a txn or a batch.
func ResponseOp(op core.ResponseOp) map[string]any {
	switch {
	case op.Range != nil:
		return map[string]any{"response_range": RangeResponse(op.Range)}
	case op.Put != nil:
		return map[string]any{"response_put": PutResponse(op.Put)}
	case op.DeleteRange != nil:
		return map[string]any{"response_delete_range": DeleteResponse(op.DeleteRange)}
	case op.Txn != nil:
		return map[string]any{"response_txn": TxnResponse(op.Txn)}
	}
	return nil
}

// WatchResponse is etcdserverpb.WatchResponse in JSON.
func WatchResponse(r *mvcc.WatchResponse) map[string]any {
	m := map[string]any{"header": Header(core.ResponseHeader{Revision: r.Revision}), "watch_id": Int64(int64(r.WatchID)),
		"created": r.Created, "canceled": r.Canceled, "compact_revision": Int64(r.CompactRevision)}
	if r.Err != nil {
		_, m["cancel_reason"] = core.Status(r.Err)
	}
	evs := make([]map[string]any, len(r.Events))
	for i := range r.Events {
		e := &r.Events[i]
		evs[i] = map[string]any{"type": int(e.Type), "kv": KV(&e.Kv), "prev_kv": KV(e.PrevKv)}
	}
	m["events"] = evs
	return m
}

// CompactionRequest is a compaction, as the gateway takes it.
type CompactionRequest struct {
	Revision int64 `json:"revision,string"`
	Physical bool  `json:"physical"`
}

func (r *CompactionRequest) Core() *core.CompactionRequest {
	return &core.CompactionRequest{Revision: r.Revision, Physical: r.Physical}
}

// LeaseGrantRequest is a lease grant, as the gateway takes it.
type LeaseGrantRequest struct {
	TTL int64 `json:"TTL,string"`
	ID  int64 `json:"ID,string"`
}

func (r *LeaseGrantRequest) Core() *core.LeaseGrantRequest {
	return &core.LeaseGrantRequest{TTL: r.TTL, ID: r.ID}
}

// LeaseID names a lease (revoke, keep-alive).
type LeaseID struct {
	ID int64 `json:"ID,string"`
}

// LeaseTimeToLiveRequest asks for a lease's remaining time (and keys).
type LeaseTimeToLiveRequest struct {
	ID   int64 `json:"ID,string"`
	Keys bool  `json:"keys"`
}

// HashKVRequest asks for the hash of the history up to a revision (0: the current one).
type HashKVRequest struct {
	Revision int64 `json:"revision,string"`
}

func HashKVResponse(r *core.HashKVResponse) map[string]any {
	return map[string]any{"header": Header(r.Header), "hash": r.Hash, "compact_revision": Int64(r.CompactRevision),
		"hash_revision": Int64(r.HashRevision)}
}

// HeaderOnly is the answer of a call that returns only a header (compaction, lease revoke).
func HeaderOnly(h core.ResponseHeader) map[string]any { return map[string]any{"header": Header(h)} }

func LeaseGrantResponse(r *core.LeaseGrantResponse) map[string]any {
	return map[string]any{"header": Header(r.Header), "ID": Int64(r.ID), "TTL": Int64(r.TTL)}
}

func LeaseKeepAliveResponse(r *core.LeaseKeepAliveResponse) map[string]any {
	return map[string]any{"header": Header(r.Header), "ID": Int64(r.ID), "TTL": Int64(r.TTL)}
}

func LeaseTimeToLiveResponse(r *core.LeaseTimeToLiveResponse) map[string]any {
	return map[string]any{"header": Header(r.Header), "ID": Int64(r.ID), "TTL": Int64(r.TTL),
		"grantedTTL": Int64(r.GrantedTTL), "keys": r.Keys}
}

func LeaseLeasesResponse(r *core.LeaseLeasesResponse) map[string]any {
	ls := make([]map[string]any, len(r.Leases))
	for i, id := range r.Leases {
		ls[i] = map[string]any{"ID": Int64(id)}
	}
	return map[string]any{"header": Header(r.Header), "leases": ls}
}
