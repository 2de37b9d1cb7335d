//go:build js && wasm

package main

import (
	"strconv"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

// etcd's JSON gateway shapes: proto field names, []byte as base64 (encoding/json's way),
// int64 as strings (",string"), enums as numbers.

func str(n int64) string { return strconv.FormatInt(n, 10) }

func header(h core.ResponseHeader) map[string]any { return map[string]any{"revision": str(h.Revision)} }

type rangeRequest struct {
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

func (r *rangeRequest) core() *core.RangeRequest {
	return &core.RangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, Limit: r.Limit, Revision: r.Revision,
		SortOrder: core.SortOrder(r.SortOrder), SortTarget: core.SortTarget(r.SortTarget), Serializable: r.Serializable,
		KeysOnly: r.KeysOnly, CountOnly: r.CountOnly, MinModRevision: r.MinModRevision, MaxModRevision: r.MaxModRevision,
		MinCreateRevision: r.MinCreateRevision, MaxCreateRevision: r.MaxCreateRevision}
}

type putRequest struct {
	Key         []byte `json:"key"`
	Value       []byte `json:"value"`
	Lease       int64  `json:"lease,string"`
	PrevKv      bool   `json:"prev_kv"`
	IgnoreValue bool   `json:"ignore_value"`
	IgnoreLease bool   `json:"ignore_lease"`
}

func (r *putRequest) core() *core.PutRequest {
	return &core.PutRequest{Key: r.Key, Value: r.Value, Lease: r.Lease, PrevKv: r.PrevKv,
		IgnoreValue: r.IgnoreValue, IgnoreLease: r.IgnoreLease}
}

type deleteRequest struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end"`
	PrevKv   bool   `json:"prev_kv"`
}

func (r *deleteRequest) core() *core.DeleteRangeRequest {
	return &core.DeleteRangeRequest{Key: r.Key, RangeEnd: r.RangeEnd, PrevKv: r.PrevKv}
}

type compare struct {
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

type requestOp struct {
	Range       *rangeRequest  `json:"request_range"`
	Put         *putRequest    `json:"request_put"`
	DeleteRange *deleteRequest `json:"request_delete_range"`
	Txn         *txnRequest    `json:"request_txn"`
}

type txnRequest struct {
	Compare []compare   `json:"compare"`
	Success []requestOp `json:"success"`
	Failure []requestOp `json:"failure"`
}

func (r *txnRequest) core() *core.TxnRequest {
	out := &core.TxnRequest{Success: ops(r.Success), Failure: ops(r.Failure)}
	for _, c := range r.Compare {
		out.Compare = append(out.Compare, core.Compare{Result: core.CompareResult(c.Result), Target: core.CompareTarget(c.Target),
			Key: c.Key, RangeEnd: c.RangeEnd, Version: c.Version, CreateRevision: c.CreateRevision,
			ModRevision: c.ModRevision, Value: c.Value, Lease: c.Lease})
	}
	return out
}

func ops(in []requestOp) []core.RequestOp {
	out := make([]core.RequestOp, len(in))
	for i, op := range in {
		switch {
		case op.Range != nil:
			out[i].Range = op.Range.core()
		case op.Put != nil:
			out[i].Put = op.Put.core()
		case op.DeleteRange != nil:
			out[i].DeleteRange = op.DeleteRange.core()
		case op.Txn != nil:
			out[i].Txn = op.Txn.core()
		}
	}
	return out
}

type watchCreate struct {
	Key            []byte  `json:"key"`
	RangeEnd       []byte  `json:"range_end"`
	StartRevision  int64   `json:"start_revision,string"`
	ProgressNotify bool    `json:"progress_notify"`
	Filters        []int32 `json:"filters"`
	PrevKv         bool    `json:"prev_kv"`
}

func (r *watchCreate) core() *core.WatchCreateRequest {
	w := &core.WatchCreateRequest{Key: r.Key, RangeEnd: r.RangeEnd, StartRevision: r.StartRevision,
		ProgressNotify: r.ProgressNotify, PrevKv: r.PrevKv}
	for _, f := range r.Filters {
		w.NoPut = w.NoPut || f == 0
		w.NoDelete = w.NoDelete || f == 1
	}
	return w
}

func kvOf(k *kv.KeyValue) map[string]any {
	if k == nil {
		return nil
	}
	m := map[string]any{"key": k.Key, "create_revision": str(k.CreateRevision), "mod_revision": str(k.ModRevision),
		"version": str(k.Version)}
	if len(k.Value) > 0 {
		m["value"] = k.Value
	}
	if k.Lease != 0 {
		m["lease"] = str(k.Lease)
	}
	return m
}

func kvsOf(kvs []kv.KeyValue) []map[string]any {
	out := make([]map[string]any, len(kvs))
	for i := range kvs {
		out[i] = kvOf(&kvs[i])
	}
	return out
}

func rangeResponseOf(r *core.RangeResponse) map[string]any {
	return map[string]any{"header": header(r.Header), "kvs": kvsOf(r.Kvs), "more": r.More, "count": str(r.Count)}
}

func putResponseOf(r *core.PutResponse) map[string]any {
	m := map[string]any{"header": header(r.Header)}
	if r.PrevKv != nil {
		m["prev_kv"] = kvOf(r.PrevKv)
	}
	return m
}

func deleteResponseOf(r *core.DeleteRangeResponse) map[string]any {
	return map[string]any{"header": header(r.Header), "deleted": str(r.Deleted), "prev_kvs": kvsOf(r.PrevKvs)}
}

func txnResponseOf(r *core.TxnResponse) map[string]any {
	resps := make([]map[string]any, len(r.Responses))
	for i, op := range r.Responses {
		resps[i] = responseOpOf(op)
	}
	return map[string]any{"header": header(r.Header), "succeeded": r.Succeeded, "responses": resps}
}

// responseOpOf is one response of a txn or a batch.
func responseOpOf(op core.ResponseOp) map[string]any {
	switch {
	case op.Range != nil:
		return map[string]any{"response_range": rangeResponseOf(op.Range)}
	case op.Put != nil:
		return map[string]any{"response_put": putResponseOf(op.Put)}
	case op.DeleteRange != nil:
		return map[string]any{"response_delete_range": deleteResponseOf(op.DeleteRange)}
	case op.Txn != nil:
		return map[string]any{"response_txn": txnResponseOf(op.Txn)}
	}
	return nil
}

func watchResponseOf(r *mvcc.WatchResponse) map[string]any {
	m := map[string]any{"header": header(core.ResponseHeader{Revision: r.Revision}), "watch_id": str(int64(r.WatchID)),
		"created": r.Created, "canceled": r.Canceled, "compact_revision": str(r.CompactRevision)}
	if r.Err != nil {
		_, m["cancel_reason"] = core.Status(r.Err)
	}
	evs := make([]map[string]any, len(r.Events))
	for i := range r.Events {
		e := &r.Events[i]
		evs[i] = map[string]any{"type": int(e.Type), "kv": kvOf(&e.Kv), "prev_kv": kvOf(e.PrevKv)}
	}
	m["events"] = evs
	return m
}
