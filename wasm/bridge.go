//go:build js && wasm

// Command wasm is the core compiled to WebAssembly for a browser tab: a thin syscall/js
// bridge, with no logic of its own, so the tab behaves like the server.
//
// It defines globalThis.metastore.call(method, requestJSON[, user]) → Promise<responseJSON>,
// and callSync(method, requestJSON[, user]) → [responseJSON, error] for calls that need no
// waiting (all but watch.next): the core never waits on the page, so these return at once,
// without the cost of a goroutine and a Promise per call. user makes the call a client's,
// checked as a server checks a request from that user ("": a client without credentials);
// without it the call is the page's own, which auth does not restrict (see caller). Requests
// and responses use etcd's JSON gateway shapes (proto field names, bytes as base64, 64-bit
// integers as strings), so a page can talk to the tab and to a server's /v3/ gateway alike.
// Errors reject with {code, message}: etcd's gRPC code and text. Work runs off the event
// loop (each call in its own goroutine), so the page never blocks.
//
// Methods: range, put, deleterange, txn, compaction, lease.grant, lease.revoke,
// lease.keepalive, lease.timetolive, lease.leases, status, hashkv, watch.create, watch.next,
// watch.cancel; auth.authenticate (checks a password) and the auth methods named after the
// gateway's paths (auth.enable, auth.disable, auth.status,
// auth.user.add|get|list|delete|changepw|grant|revoke, auth.role.add|get|list|delete|grant|
// revoke); batch (many requests in one call); putMany (the bulk path, outside call:
// many puts as one Uint8Array, no JSON); the KV, lease and batch methods prefixed
// "scratch." run on a scratch store (for benchmarks; "scratch.drop" frees it); clock (pause, resume, advance the time
// leases run on); snapshot, restore and reset (the whole state, for persistence and
// export/import); and bench (the core's own speed in this tab, on a scratch store).
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/wasm/gateway"
	"github.com/metastore/metastore/wasm/promise"
	"github.com/metastore/metastore/wasm/records"
)

var (
	// clk is the time leases run on; the page can pause it and move it forward.
	clk = clock.NewPage()
	// memberID prefixes the tab's lease IDs, as a member's ID prefixes a server's: picked at
	// random per page load, so IDs look like etcd's (not 0000…) and tabs do not share them.
	memberID = randomMemberID()

	// mu guards store and db, which restore and reset replace.
	mu    sync.RWMutex
	store *core.Store
	db    *backend.Memory

	watches gateway.Streams
)

func main() {
	if err := replace(nil); err != nil {
		panic(err)
	}
	go func() {
		for range time.Tick(250 * time.Millisecond) {
			expireLeases()
		}
	}()
	js.Global().Set("metastore", js.ValueOf(map[string]any{"call": js.FuncOf(call), "callSync": js.FuncOf(callSync),
		"putMany": js.FuncOf(putMany)}))
	select {}
}

// randomMemberID is not for secrecy: math/rand/v2's source is seeded by the runtime (from
// getRandomValues in a browser), and it keeps crypto/rand's 180 KB out of the wasm.
func randomMemberID() uint16 { return uint16(rand.Uint32()) }

// current is the store calls run against.
func current() *core.Store {
	mu.RLock()
	defer mu.RUnlock()
	return store
}

// replace swaps in an empty store (snapshot nil) or one restored from a snapshot. Open
// watch streams belong to the old store: they are closed, and their watch.next fails.
func replace(snapshot []byte) error {
	b := backend.NewMemory()
	cfg := core.Config{Backend: b, Clock: clk, IDs: idgen.New(memberID, clk.Now())}
	var s *core.Store
	var err error
	if snapshot == nil {
		s, err = core.New(cfg)
	} else {
		s, err = core.Restore(bytes.NewReader(snapshot), cfg)
	}
	if err != nil {
		return err
	}
	mu.Lock()
	old := store
	store, db = s, b
	mu.Unlock()
	watches.CloseAll()
	if old != nil {
		old.Close()
	}
	return nil
}

var (
	scratchMu sync.Mutex
	scratch   *core.Store
)

func scratchStore() *core.Store {
	scratchMu.Lock()
	defer scratchMu.Unlock()
	if scratch == nil {
		scratch, _ = core.New(core.Config{}) // an empty memory store cannot fail to open
	}
	return scratch
}

func dropScratch() {
	scratchMu.Lock()
	defer scratchMu.Unlock()
	if scratch != nil {
		scratch.Close()
		scratch = nil
	}
}

// expireLeases revokes leases whose TTL ran out, as a server's leader does.
func expireLeases() {
	s := current()
	for _, id := range s.ExpiredLeases(1000) {
		s.LeaseRevoke(id)
	}
}

// call(method, requestJSON) returns a Promise of the response JSON.
func call(this js.Value, args []js.Value) any {
	if len(args) < 2 {
		return promise.Reject(core.CodeInvalidArgument, "metastore.call(method, requestJSON[, user])")
	}
	method, body, who := args[0].String(), []byte(args[1].String()), callerOf(args)
	return promise.Run(func() (any, error) { return dispatch(method, body, who) }, core.Status)
}

// callSync(method, requestJSON[, user]) returns [responseJSON, null] or [null, {code, message}].
func callSync(this js.Value, args []js.Value) any {
	if len(args) < 2 || args[0].String() == "watch.next" {
		return js.ValueOf([]any{nil, map[string]any{"code": int(core.CodeInvalidArgument),
			"message": "metastore.callSync(method, requestJSON[, user]); watch.next needs call"}})
	}
	out, err := dispatch(args[0].String(), []byte(args[1].String()), callerOf(args))
	if err != nil {
		code, msg := core.Status(err)
		return js.ValueOf([]any{nil, map[string]any{"code": int(code), "message": msg}})
	}
	b, _ := json.Marshal(out)
	return js.ValueOf([]any{string(b), nil})
}

// putMany(bytes, scratch) is the bulk path: puts given as one Uint8Array of (uvarint key
// length, key, uvarint value length, value) records, each its own put and revision, as many
// put calls would make, but without JSON on either side. It returns [revision, null] (the
// revision after the last put, as a string) or [null, {code, message}] for the first put
// that failed (those before it are kept) or for bytes that are not such records. scratch
// true runs them on the scratch store.
func putMany(this js.Value, args []js.Value) any {
	fail := func(code core.Code, msg string) any {
		return js.ValueOf([]any{nil, map[string]any{"code": int(code), "message": msg}})
	}
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return fail(core.CodeInvalidArgument, "metastore.putMany(Uint8Array, scratch)")
	}
	buf := make([]byte, args[0].Get("byteLength").Int())
	js.CopyBytesToGo(buf, args[0])
	s := current()
	if len(args) > 1 && args[1].Truthy() {
		s = scratchStore()
	}
	var failed error
	if err := records.Each(buf, func(key, value []byte) error {
		_, failed = s.Put(&core.PutRequest{Key: key, Value: value})
		return failed
	}); err != nil {
		if failed == nil {
			return fail(core.CodeInvalidArgument, "putMany: "+err.Error())
		}
		code, msg := core.Status(failed)
		return fail(code, msg)
	}
	return js.ValueOf([]any{gateway.Int64(s.Rev()), nil})
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

func dispatch(method string, body []byte, who caller) (any, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(body, v); err != nil {
			return badRequest("bad request: " + err.Error())
		}
		return nil
	}
	store := current()
	if m, ok := strings.CutPrefix(method, "scratch."); ok {
		// The KV and lease methods on a scratch store, so a benchmark leaves the page's
		// store alone. Nothing that reaches the page's store, clock or watches.
		switch m {
		case "drop":
			dropScratch()
			return map[string]any{}, nil
		case "range", "put", "deleterange", "txn", "compaction", "batch",
			"lease.grant", "lease.revoke", "lease.keepalive", "lease.timetolive", "lease.leases":
			method, store = m, scratchStore()
		default:
			return nil, badRequest(fmt.Sprintf("method %q is not available on the scratch store", m))
		}
	}
	ai := who.authInfo(store)
	switch method {
	case "range":
		var r gateway.RangeRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		req := r.Core()
		if err := checkRange(store, ai, req); err != nil {
			return nil, err
		}
		resp, err := store.Range(req)
		if err != nil {
			return nil, err
		}
		return gateway.RangeResponse(resp), nil
	case "put":
		var r gateway.PutRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		req := r.Core()
		if err := checkPut(store, ai, req); err != nil {
			return nil, err
		}
		resp, err := store.Put(req)
		if err != nil {
			return nil, err
		}
		return gateway.PutResponse(resp), nil
	case "deleterange":
		var r gateway.DeleteRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		req := r.Core()
		if err := checkDelete(store, ai, req); err != nil {
			return nil, err
		}
		resp, err := store.DeleteRange(req)
		if err != nil {
			return nil, err
		}
		return gateway.DeleteResponse(resp), nil
	case "txn":
		var r gateway.TxnRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		req := r.Core()
		if err := checkTxn(store, ai, req); err != nil {
			return nil, err
		}
		resp, err := store.Txn(req)
		if err != nil {
			return nil, err
		}
		return gateway.TxnResponse(resp), nil
	case "compaction":
		var r gateway.CompactionRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := store.CheckAdmin(ai); err != nil {
			return nil, err
		}
		resp, err := store.Compact(r.Core())
		if err != nil {
			return nil, err
		}
		if resp.PhysicalDone != nil {
			<-resp.PhysicalDone
		}
		return gateway.HeaderOnly(resp.Header), nil
	case "hashkv":
		var r gateway.HashKVRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := store.CheckAdmin(ai); err != nil {
			return nil, err
		}
		resp, err := store.HashKV(r.Revision)
		if err != nil {
			return nil, err
		}
		return gateway.HashKVResponse(resp), nil
	case "lease.grant":
		var r gateway.LeaseGrantRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := store.CheckAuthenticated(ai); err != nil {
			return nil, err
		}
		resp, err := store.LeaseGrant(r.Core())
		if err != nil {
			return nil, err
		}
		return gateway.LeaseGrantResponse(resp), nil
	case "lease.revoke":
		var r gateway.LeaseID
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := checkLeaseRevoke(store, ai, r.ID); err != nil {
			return nil, err
		}
		resp, err := store.LeaseRevoke(r.ID)
		if err != nil {
			return nil, err
		}
		return gateway.HeaderOnly(resp.Header), nil
	case "lease.keepalive":
		var r gateway.LeaseID
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := store.CheckLeaseKeepAlive(ai, r.ID); err != nil {
			return nil, err
		}
		return gateway.LeaseKeepAliveResponse(store.LeaseKeepAlive(r.ID)), nil
	case "lease.timetolive":
		var r gateway.LeaseTimeToLiveRequest
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := checkTimeToLive(store, ai, r.ID, r.Keys); err != nil {
			return nil, err
		}
		return gateway.LeaseTimeToLiveResponse(store.LeaseTimeToLive(r.ID, r.Keys)), nil
	case "lease.leases":
		resp := store.LeaseLeases()
		if err := store.CheckLeaseRead(ai, resp.Leases...); err != nil {
			return nil, err
		}
		return gateway.LeaseLeasesResponse(resp), nil
	case "status":
		if err := store.CheckAuthenticated(ai); err != nil {
			return nil, err
		}
		mu.RLock()
		size := gateway.Int64(db.Size())
		mu.RUnlock()
		return map[string]any{"header": gateway.Header(core.ResponseHeader{Revision: store.Rev()}), "version": core.EtcdVersion,
			"dbSize": size, "dbSizeInUse": size, "compact_revision": gateway.Int64(store.CompactRev())}, nil
	case "batch":
		var r struct {
			Requests []gateway.RequestOp `json:"requests"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		return runBatch(store, ai, r.Requests)
	case "clock":
		var r struct {
			Action  string `json:"action"`
			Seconds int64  `json:"seconds,string"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		switch r.Action {
		case "pause":
			clk.Pause()
		case "resume":
			clk.Resume()
		case "advance":
			clk.Advance(time.Duration(r.Seconds) * time.Second)
			expireLeases()
		case "":
		default:
			return nil, badRequest(fmt.Sprintf("clock: unknown action %q (pause, resume, advance)", r.Action))
		}
		paused, ahead := clk.State()
		return map[string]any{"paused": paused, "ahead_ms": gateway.Int64(ahead.Milliseconds())}, nil
	case "snapshot":
		var buf bytes.Buffer
		if err := store.WriteSnapshot(&buf); err != nil {
			return nil, err
		}
		return map[string]any{"snapshot": buf.Bytes(), "revision": gateway.Int64(store.Rev())}, nil
	case "restore":
		var r struct {
			Snapshot []byte `json:"snapshot"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		if err := replace(r.Snapshot); err != nil {
			return nil, badRequest(err.Error())
		}
		return map[string]any{"header": gateway.Header(core.ResponseHeader{Revision: current().Rev()})}, nil
	case "reset":
		if err := replace(nil); err != nil {
			return nil, err
		}
		return map[string]any{"header": gateway.Header(core.ResponseHeader{Revision: current().Rev()})}, nil
	case "bench":
		var r struct {
			N int `json:"n"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		return bench(r.N)
	case "watch.create":
		var r gateway.WatchCreate
		if err := decode(&r); err != nil {
			return nil, err
		}
		return createWatch(store, ai, &r)
	case "watch.next":
		var r gateway.StreamID
		if err := decode(&r); err != nil {
			return nil, err
		}
		return nextWatch(r.Stream)
	case "watch.cancel":
		var r gateway.StreamID
		if err := decode(&r); err != nil {
			return nil, err
		}
		watches.Close(r.Stream)
		return map[string]any{}, nil
	}
	if out, ok, err := authCall(store, ai, method, decode); ok {
		return out, err
	}
	return nil, badRequest(fmt.Sprintf("unknown method %q", method))
}

// runBatch runs each request on its own, in order, as separate calls would (a bulk path
// through the bridge: one crossing for many requests), each checked as its call would be. It
// stops at the first error, which it returns with the index of the failed request.
func runBatch(store *core.Store, ai core.AuthInfo, reqs []gateway.RequestOp) (any, error) {
	out := make([]map[string]any, 0, len(reqs))
	for i, op := range gateway.Ops(reqs) {
		var (
			resp core.ResponseOp
			err  error
		)
		switch {
		case op.Range != nil:
			if err = checkRange(store, ai, op.Range); err == nil {
				resp.Range, err = store.Range(op.Range)
			}
		case op.Put != nil:
			if err = checkPut(store, ai, op.Put); err == nil {
				resp.Put, err = store.Put(op.Put)
			}
		case op.DeleteRange != nil:
			if err = checkDelete(store, ai, op.DeleteRange); err == nil {
				resp.DeleteRange, err = store.DeleteRange(op.DeleteRange)
			}
		case op.Txn != nil:
			if err = checkTxn(store, ai, op.Txn); err == nil {
				resp.Txn, err = store.Txn(op.Txn)
			}
		default:
			err = badRequest(fmt.Sprintf("batch: request %d is empty", i))
		}
		if err != nil {
			return nil, batchError{i, err}
		}
		out = append(out, gateway.ResponseOp(resp))
	}
	return map[string]any{"responses": out}, nil
}

// batchError is the error of one request of a batch; its gRPC status is that request's.
type batchError struct {
	index int
	err   error
}

func (e batchError) Error() string { return fmt.Sprintf("batch request %d: %v", e.index, e.err) }
func (e batchError) Unwrap() error { return e.err }

// createWatch opens a watch stream with one watcher; watch.next returns its next message. A
// watch the caller may not create gets a server's answer, a cancel, and no stream.
func createWatch(store *core.Store, ai core.AuthInfo, r *gateway.WatchCreate) (any, error) {
	req := r.Core()
	if err := checkWatch(store, ai, req); err != nil {
		return map[string]any{"result": deniedWatch(store, err)}, nil
	}
	ws := store.NewWatchStream()
	if _, err := ws.Create(req); err != nil {
		ws.Close()
		return nil, err
	}
	id := watches.Add(ws)
	first := <-ws.Chan() // the Created response
	return map[string]any{"stream": gateway.Int64(id), "result": gateway.WatchResponse(&first)}, nil
}

// nextWatch waits for the stream's next message (the caller awaits it without blocking the
// page: this runs in its own goroutine).
func nextWatch(id int64) (any, error) {
	ws := watches.Get(id)
	if ws == nil {
		return nil, badRequest("unknown watch stream")
	}
	select {
	case r := <-ws.Chan():
		return map[string]any{"result": gateway.WatchResponse(&r)}, nil
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
