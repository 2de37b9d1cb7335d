//go:build js && wasm

// Command wasm is the core compiled to WebAssembly for a browser tab: a thin syscall/js
// bridge, with no logic of its own, so the tab behaves like the server.
//
// It defines globalThis.metastore.call(method, requestJSON) → Promise<responseJSON>, and
// callSync(method, requestJSON) → [responseJSON, error] for calls that need no waiting (all
// but watch.next): the core never waits on the page, so these return at once, without the
// cost of a goroutine and a Promise per call. Requests
// and responses use etcd's JSON gateway shapes (proto field names, bytes as base64, 64-bit
// integers as strings), so a page can talk to the tab and to a server's /v3/ gateway alike.
// Errors reject with {code, message}: etcd's gRPC code and text. Work runs off the event
// loop (each call in its own goroutine), so the page never blocks.
//
// Methods: range, put, deleterange, txn, compaction, lease.grant, lease.revoke,
// lease.keepalive, lease.timetolive, lease.leases, status, watch.create, watch.next,
// watch.cancel, and bench (the core's own speed in this tab, on a scratch store).
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/mvcc"
)

var (
	store *core.Store

	watchMu sync.Mutex
	watches = map[int64]*core.WatchStream{}
	nextID  int64
)

func main() {
	s, err := core.New(core.Config{})
	if err != nil {
		panic(err)
	}
	store = s
	go expireLeases()
	js.Global().Set("metastore", js.ValueOf(map[string]any{"call": js.FuncOf(call), "callSync": js.FuncOf(callSync)}))
	select {}
}

// expireLeases revokes leases whose TTL ran out, as a server's leader does.
func expireLeases() {
	for range time.Tick(500 * time.Millisecond) {
		for _, id := range store.ExpiredLeases(1000) {
			store.LeaseRevoke(id)
		}
	}
}

// call(method, requestJSON) returns a Promise of the response JSON.
func call(this js.Value, args []js.Value) any {
	if len(args) != 2 {
		return reject(core.CodeInvalidArgument, "metastore.call(method, requestJSON)")
	}
	method, body := args[0].String(), args[1].String()
	promise := js.Global().Get("Promise")
	return promise.New(js.FuncOf(func(_ js.Value, pa []js.Value) any {
		resolve, rejectFn := pa[0], pa[1]
		go func() {
			out, err := dispatch(method, []byte(body))
			if err != nil {
				code, msg := core.Status(err)
				rejectFn.Invoke(js.ValueOf(map[string]any{"code": int(code), "message": msg}))
				return
			}
			b, _ := json.Marshal(out)
			resolve.Invoke(string(b))
		}()
		return nil
	}))
}

// callSync(method, requestJSON) returns [responseJSON, null] or [null, {code, message}].
func callSync(this js.Value, args []js.Value) any {
	if len(args) != 2 || args[0].String() == "watch.next" {
		return js.ValueOf([]any{nil, map[string]any{"code": int(core.CodeInvalidArgument),
			"message": "metastore.callSync(method, requestJSON); watch.next needs call"}})
	}
	out, err := dispatch(args[0].String(), []byte(args[1].String()))
	if err != nil {
		code, msg := core.Status(err)
		return js.ValueOf([]any{nil, map[string]any{"code": int(code), "message": msg}})
	}
	b, _ := json.Marshal(out)
	return js.ValueOf([]any{string(b), nil})
}

func reject(code core.Code, msg string) any {
	return js.Global().Get("Promise").Call("reject", js.ValueOf(map[string]any{"code": int(code), "message": msg}))
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

func dispatch(method string, body []byte) (any, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(body, v); err != nil {
			return badRequest("bad request: " + err.Error())
		}
		return nil
	}
	switch method {
	case "range":
		var r rangeRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.Range(r.core())
		if err != nil {
			return nil, err
		}
		return rangeResponseOf(resp), nil
	case "put":
		var r putRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.Put(r.core())
		if err != nil {
			return nil, err
		}
		return putResponseOf(resp), nil
	case "deleterange":
		var r deleteRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.DeleteRange(r.core())
		if err != nil {
			return nil, err
		}
		return deleteResponseOf(resp), nil
	case "txn":
		var r txnRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.Txn(r.core())
		if err != nil {
			return nil, err
		}
		return txnResponseOf(resp), nil
	case "compaction":
		var r struct {
			Revision int64 `json:"revision,string"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.Compact(&core.CompactionRequest{Revision: r.Revision})
		if err != nil {
			return nil, err
		}
		return map[string]any{"header": header(resp.Header)}, nil
	case "lease.grant":
		var r struct {
			TTL int64 `json:"TTL,string"`
			ID  int64 `json:"ID,string"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.LeaseGrant(&core.LeaseGrantRequest{TTL: r.TTL, ID: r.ID})
		if err != nil {
			return nil, err
		}
		return map[string]any{"header": header(resp.Header), "ID": str(resp.ID), "TTL": str(resp.TTL)}, nil
	case "lease.revoke":
		var r leaseID
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp, err := store.LeaseRevoke(r.ID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"header": header(resp.Header)}, nil
	case "lease.keepalive":
		var r leaseID
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp := store.LeaseKeepAlive(r.ID)
		return map[string]any{"header": header(resp.Header), "ID": str(resp.ID), "TTL": str(resp.TTL)}, nil
	case "lease.timetolive":
		var r struct {
			ID   int64 `json:"ID,string"`
			Keys bool  `json:"keys"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		resp := store.LeaseTimeToLive(r.ID, r.Keys)
		return map[string]any{"header": header(resp.Header), "ID": str(resp.ID), "TTL": str(resp.TTL),
			"grantedTTL": str(resp.GrantedTTL), "keys": resp.Keys}, nil
	case "lease.leases":
		resp := store.LeaseLeases()
		ls := make([]map[string]any, len(resp.Leases))
		for i, id := range resp.Leases {
			ls[i] = map[string]any{"ID": str(id)}
		}
		return map[string]any{"header": header(resp.Header), "leases": ls}, nil
	case "status":
		return map[string]any{"header": header(core.ResponseHeader{Revision: store.Rev()}), "version": core.EtcdVersion,
			"compact_revision": str(store.CompactRev())}, nil
	case "bench":
		var r struct {
			N int `json:"n"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		return bench(r.N)
	case "watch.create":
		var r watchCreate
		if err := decode(&r); err != nil {
			return nil, err
		}
		return createWatch(&r)
	case "watch.next":
		var r struct {
			Stream int64 `json:"stream,string"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		return nextWatch(r.Stream)
	case "watch.cancel":
		var r struct {
			Stream int64 `json:"stream,string"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		watchMu.Lock()
		ws := watches[r.Stream]
		delete(watches, r.Stream)
		watchMu.Unlock()
		if ws != nil {
			ws.Close()
		}
		return map[string]any{}, nil
	}
	return nil, badRequest(fmt.Sprintf("unknown method %q", method))
}

type leaseID struct {
	ID int64 `json:"ID,string"`
}

// createWatch opens a watch stream with one watcher; watch.next returns its next message.
func createWatch(r *watchCreate) (any, error) {
	ws := store.NewWatchStream()
	if _, err := ws.Create(r.core()); err != nil {
		ws.Close()
		return nil, err
	}
	watchMu.Lock()
	nextID++
	id := nextID
	watches[id] = ws
	watchMu.Unlock()
	first := <-ws.Chan() // the Created response
	return map[string]any{"stream": str(id), "result": watchResponseOf(&first)}, nil
}

// nextWatch waits for the stream's next message (the caller awaits it without blocking the
// page: this runs in its own goroutine).
func nextWatch(id int64) (any, error) {
	watchMu.Lock()
	ws := watches[id]
	watchMu.Unlock()
	if ws == nil {
		return nil, badRequest("unknown watch stream")
	}
	select {
	case r := <-ws.Chan():
		return map[string]any{"result": watchResponseOf(&r)}, nil
	case <-ws.Done():
		return nil, mvcc.ErrStreamClosed
	}
}

// bench measures the core in this tab without the bridge: n puts (8-byte keys, 256-byte
// values, over 100k keys) and n single-key ranges on a scratch store.
func bench(n int) (any, error) {
	if n <= 0 || n > 10_000_000 {
		return nil, badRequest("bench: n must be in 1..10000000")
	}
	s, err := core.New(core.Config{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	key := make([]byte, 8)
	val := make([]byte, 256)
	req := &core.PutRequest{Key: key, Value: val}
	start := time.Now()
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(key, uint64(i%100_000))
		if _, err := s.Put(req); err != nil {
			return nil, err
		}
	}
	puts := float64(n) / time.Since(start).Seconds()
	rr := &core.RangeRequest{Key: key}
	start = time.Now()
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(key, uint64(i%100_000))
		if _, err := s.Range(rr); err != nil {
			return nil, err
		}
	}
	return map[string]any{"puts_per_sec": puts, "ranges_per_sec": float64(n) / time.Since(start).Seconds()}, nil
}
