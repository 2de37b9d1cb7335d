//go:build js && wasm

// Command tab is the in-tab cluster compiled to WebAssembly (issue #14): the server's member
// code, several members in the tab over a simulated network (wasm/cluster), behind a thin
// syscall/js bridge. The playground loads it on demand, apart from the single store's module.
//
// A run is deterministic: the page drives it one tick of a virtual clock at a time, and
// everything a member waits on (Raft's ticks, leases, request timeouts, link delays, slow
// disks, watch retries) runs on that clock. A synchronous call from JavaScript returns only
// once every goroutine it woke is idle again (Go's js/wasm runtime waits for that before it
// returns), so each tick ends in a state that depends only on what came before. Requests go
// in at ticks (numbered), and their answers come out at ticks. With the page's random source
// seeded too (Raft's election timeouts and Go's scheduler draw from it), the same seed and
// the same requests at the same ticks give the same run: the page records the requests to
// replay or share a run.
//
// It defines globalThis.metastoreCluster with two calls, each taking and returning JSON:
//   - start({members, seed}) → a step's output: a new cluster of 3 (1 to 7) members on a
//     virtual clock, replacing any (a seeded replay needs a fresh module: see the worker).
//   - step({inputs: [{id, method, body}]}) → output: starts each input (in order), then moves
//     the clock one tick (10 ms). The output, taken before the inputs start, is the state as
//     of the end of the previous tick: {tick, now_ms, members, links, done, watch}, where done
//     lists the inputs that finished ({id, result} or {id, error: {code, message}}: etcd's
//     gRPC code and text) and watch the watch responses ({stream, result}).
//
// Input methods, each with "member" naming the member asked (like etcdctl's --endpoints):
// range, put, deleterange, txn, compaction, status, hashkv, lease.grant, lease.revoke,
// lease.keepalive, lease.timetolive, lease.leases, watch.create (its result names a stream;
// its responses come in watch), watch.cancel, member.list, member.add (which also starts the
// member, named by its peer URL's host), member.remove, member.update, member.promote,
// move-leader, all in etcd's JSON gateway shapes (headers carry the member's cluster_id,
// member_id and raft_term); and the faults: cluster.stop, cluster.restart, cluster.isolate
// {member}, cluster.split {groups: [[names]]}, cluster.heal, cluster.link {a, b, drop,
// delay_ms}, cluster.disk {member, delay_ms}; and cluster.check (the linearizability check
// of the single-key reads and writes made so far: wasm/cluster.History).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/wasm/cluster"
	"github.com/metastore/metastore/wasm/gateway"
)

// tick is how far one step moves the virtual clock.
const tick = 10 * time.Millisecond

// epoch is where every run's clock starts, so that a replay sees the same times.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// commandTimeout bounds a request as etcdctl's --command-timeout does (5 s), on the virtual clock.
const commandTimeout = 5 * time.Second

var (
	c    *cluster.Cluster
	clk  *clock.Manual
	hist *cluster.History

	// mu guards what the inputs' goroutines hand back: done and events.
	mu      sync.Mutex
	done    []doneItem
	events  []watchEvent
	streams gateway.Streams
)

type doneItem struct {
	ID     int64      `json:"id"`
	Result any        `json:"result,omitempty"`
	Error  *callError `json:"error,omitempty"`
}

type callError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type watchEvent struct {
	Stream string         `json:"stream"`
	Result map[string]any `json:"result"`
}

type input struct {
	ID     int64           `json:"id"`
	Method string          `json:"method"`
	Body   json.RawMessage `json:"body"`
}

type output struct {
	Tick    int64            `json:"tick"`
	NowMS   int64            `json:"now_ms"`
	Members []cluster.Status `json:"members"`
	Links   []cluster.Link   `json:"links"`
	Done    []doneItem       `json:"done"`
	Watch   []watchEvent     `json:"watch"`
}

func main() {
	js.Global().Set("metastoreCluster", js.ValueOf(map[string]any{"start": js.FuncOf(start), "step": js.FuncOf(step)}))
	select {}
}

// fail is a call's answer to a request it cannot read: a JSON error.
func fail(msg string) any {
	b, _ := json.Marshal(map[string]any{"error": callError{int(core.CodeInvalidArgument), msg}})
	return string(b)
}

func start(_ js.Value, args []js.Value) any {
	var req struct {
		Members int   `json:"members"`
		Seed    int64 `json:"seed,string"`
	}
	if len(args) < 1 || json.Unmarshal([]byte(args[0].String()), &req) != nil {
		return fail("metastoreCluster.start({members, seed})")
	}
	if req.Members != 0 && (req.Members < 1 || req.Members > 7) {
		return fail("members: 1 to 7")
	}
	if c != nil {
		c.Close()
	}
	clk = clock.NewManual(epoch)
	hist = cluster.NewHistory()
	mu.Lock()
	done, events = nil, nil
	mu.Unlock()
	streams.CloseAll()
	var err error
	// Snapshots every 100 entries, 20 kept behind: a member added after a few hundred
	// writes catches up from a snapshot, as one far behind does on a server.
	c, err = cluster.New(cluster.Config{Size: req.Members, Seed: req.Seed, Clock: clk, SnapshotCount: 100, SnapshotCatchupEntries: 20})
	if err != nil {
		return fail(err.Error())
	}
	return snapshot()
}

func step(_ js.Value, args []js.Value) any {
	var req struct {
		Inputs []input `json:"inputs"`
	}
	if len(args) < 1 || json.Unmarshal([]byte(args[0].String()), &req) != nil {
		return fail("metastoreCluster.step({inputs: [{id, method, body}]})")
	}
	if c == nil {
		return fail("no cluster: call start first")
	}
	out := snapshot()
	for _, in := range req.Inputs {
		go run(in)
	}
	clk.Advance(tick)
	return out
}

// snapshot is the output at this point: the state as the last tick left it, and what
// finished since the last step.
func snapshot() string {
	mu.Lock()
	elapsed := clk.Now().Sub(epoch) // the clock moves only by ticks
	o := output{Tick: int64(elapsed / tick), NowMS: elapsed.Milliseconds(), Done: done, Watch: events}
	done, events = nil, nil
	mu.Unlock()
	o.Members, o.Links = c.Status(), c.Links()
	if o.Links == nil {
		o.Links = []cluster.Link{}
	}
	if o.Done == nil {
		o.Done = []doneItem{}
	}
	if o.Watch == nil {
		o.Watch = []watchEvent{}
	}
	b, _ := json.Marshal(o)
	return string(b)
}

func finish(id int64, result any, err error) {
	d := doneItem{ID: id, Result: result}
	if err != nil {
		code, msg := status(err)
		d.Result, d.Error = nil, &callError{int(code), msg}
	}
	mu.Lock()
	done = append(done, d)
	mu.Unlock()
}

// status is node.Status, but a request the bridge cannot read is InvalidArgument, and a
// request that ran out of time says so as etcdctl does.
func status(err error) (core.Code, string) {
	var b badRequest
	switch {
	case errors.As(err, &b):
		return core.CodeInvalidArgument, string(b)
	case errors.Is(err, context.DeadlineExceeded):
		return core.CodeDeadlineExceeded, "context deadline exceeded"
	}
	return node.Status(err)
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

func run(in input) {
	res, err := dispatch(in.Method, in.Body)
	finish(in.ID, res, err)
}

// target is the fields the bridge reads itself from any input's body.
type target struct {
	Member  string     `json:"member"`
	Groups  [][]string `json:"groups"`
	A       string     `json:"a"`
	B       string     `json:"b"`
	Drop    float64    `json:"drop"`
	DelayMS int64      `json:"delay_ms"`
}

func dispatch(method string, body []byte) (any, error) {
	if len(body) == 0 {
		body = []byte("{}")
	}
	var t target
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, badRequest("bad request: " + err.Error())
	}
	ok := map[string]any{}
	switch method {
	case "cluster.stop":
		return ok, c.Stop(t.Member)
	case "cluster.restart":
		return ok, c.Start(t.Member)
	case "cluster.isolate":
		return ok, c.Isolate(t.Member)
	case "cluster.split":
		return ok, c.Split(t.Groups...)
	case "cluster.heal":
		c.Heal()
		return ok, nil
	case "cluster.link":
		return ok, c.SetLink(t.A, t.B, t.Drop, time.Duration(t.DelayMS)*time.Millisecond)
	case "cluster.disk":
		return ok, c.SetDisk(t.Member, time.Duration(t.DelayMS)*time.Millisecond)
	case "cluster.check":
		return hist.Check(), nil
	}
	n := c.Node(t.Member)
	if n == nil {
		return nil, node.ErrStopped
	}
	ctx, cancel := clock.WithTimeout(context.Background(), clk, commandTimeout)
	defer cancel()
	out, err := serveMember(ctx, n, t.Member, method, body)
	if err != nil {
		return nil, err
	}
	if h, ok := out["header"].(map[string]any); ok {
		nh := n.Header()
		h["cluster_id"] = strconv.FormatUint(nh.ClusterID, 10)
		h["member_id"] = strconv.FormatUint(nh.MemberID, 10)
		h["raft_term"] = strconv.FormatUint(nh.RaftTerm, 10)
	}
	return out, nil
}

func header(n *node.Node) map[string]any {
	return gateway.Header(core.ResponseHeader{Revision: n.Store().Rev()})
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

func members(ms []node.Member) []map[string]any {
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = map[string]any{"ID": u64(m.ID), "name": m.Name, "peerURLs": m.PeerURLs, "clientURLs": m.ClientURLs, "isLearner": m.IsLearner}
	}
	return out
}

// serveMember answers the member's API methods.
func serveMember(ctx context.Context, n *node.Node, name, method string, body []byte) (map[string]any, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(body, v); err != nil {
			return badRequest("bad request: " + err.Error())
		}
		return nil
	}
	switch method {
	case "range":
		return serve(body, func(r *gateway.RangeRequest) (*core.RangeResponse, error) { return recordRange(ctx, n, r.Core()) }, gateway.RangeResponse)
	case "put":
		return serve(body, func(r *gateway.PutRequest) (*core.PutResponse, error) { return recordPut(ctx, n, r.Core()) }, gateway.PutResponse)
	case "deleterange":
		return serve(body, func(r *gateway.DeleteRequest) (*core.DeleteRangeResponse, error) {
			return recordDelete(ctx, n, r.Core())
		}, gateway.DeleteResponse)
	case "txn":
		return serve(body, func(r *gateway.TxnRequest) (*core.TxnResponse, error) { return n.Txn(ctx, r.Core()) }, gateway.TxnResponse)
	case "compaction":
		return serve(body, func(r *gateway.CompactionRequest) (*core.CompactionResponse, error) { return n.Compact(ctx, r.Core()) },
			func(r *core.CompactionResponse) map[string]any { return gateway.HeaderOnly(r.Header) })
	case "status":
		h := n.Header()
		st := map[string]any{"header": header(n), "version": core.EtcdVersion,
			"dbSize": gateway.Int64(n.DiskUsage()), "dbSizeInUse": gateway.Int64(n.Store().MVCC().Size()),
			"leader": u64(n.Leader()), "raftIndex": u64(n.CommittedIndex()), "raftTerm": u64(h.RaftTerm),
			"raftAppliedIndex": u64(n.AppliedIndex()), "isLearner": n.IsLearner(), "dbSizeQuota": gateway.Int64(max(n.Quota(), 0))}
		if n.Leader() == 0 {
			st["errors"] = []string{node.ErrNoLeader.Error()}
		}
		return st, nil
	case "hashkv":
		return serve(body, func(r *gateway.HashKVRequest) (*core.HashKVResponse, error) { return n.Store().HashKV(r.Revision) },
			gateway.HashKVResponse)
	case "lease.grant":
		return serve(body, func(r *gateway.LeaseGrantRequest) (*core.LeaseGrantResponse, error) {
			return n.LeaseGrant(ctx, r.Core())
		},
			gateway.LeaseGrantResponse)
	case "lease.revoke":
		return serve(body, func(r *gateway.LeaseID) (*core.LeaseRevokeResponse, error) { return n.LeaseRevoke(ctx, r.ID) },
			func(r *core.LeaseRevokeResponse) map[string]any { return gateway.HeaderOnly(r.Header) })
	case "lease.keepalive":
		return serve(body, func(r *gateway.LeaseID) (*core.LeaseKeepAliveResponse, error) { return n.LeaseRenew(ctx, r.ID) },
			gateway.LeaseKeepAliveResponse)
	case "lease.timetolive":
		return serve(body, func(r *gateway.LeaseTimeToLiveRequest) (*core.LeaseTimeToLiveResponse, error) {
			return n.LeaseTimeToLive(ctx, r.ID, r.Keys)
		}, gateway.LeaseTimeToLiveResponse)
	case "lease.leases":
		resp, err := n.LeaseLeases(ctx)
		if err != nil {
			return nil, err
		}
		return gateway.LeaseLeasesResponse(resp), nil
	case "watch.create":
		var r gateway.WatchCreate
		if err := decode(&r); err != nil {
			return nil, err
		}
		return createWatch(n, &r)
	case "watch.cancel":
		var r gateway.StreamID
		if err := decode(&r); err != nil {
			return nil, err
		}
		streams.Close(r.Stream)
		return map[string]any{}, nil
	case "member.list":
		var r struct {
			Linearizable bool `json:"linearizable"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		ms, err := n.MemberList(ctx, r.Linearizable)
		if err != nil {
			return nil, err
		}
		return map[string]any{"header": header(n), "members": members(ms)}, nil
	case "member.add":
		var r struct {
			PeerURLs  []string `json:"peerURLs"`
			IsLearner bool     `json:"isLearner"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		m, ms, err := c.Add(ctx, name, r.PeerURLs, r.IsLearner)
		if err != nil {
			return nil, err
		}
		return map[string]any{"header": header(n), "member": members([]node.Member{m})[0], "members": members(ms)}, nil
	case "member.remove", "member.promote", "member.update", "move-leader":
		var r struct {
			ID       uint64   `json:"ID,string"`
			TargetID uint64   `json:"targetID,string"`
			PeerURLs []string `json:"peerURLs"`
		}
		if err := decode(&r); err != nil {
			return nil, err
		}
		var (
			ms  []node.Member
			err error
		)
		switch method {
		case "member.remove":
			ms, err = n.MemberRemove(ctx, r.ID)
		case "member.promote":
			ms, err = n.MemberPromote(ctx, r.ID)
		case "member.update":
			ms, err = n.MemberUpdate(ctx, r.ID, r.PeerURLs)
		default:
			// As etcd's, the answer carries no header.
			return map[string]any{}, n.MoveLeader(ctx, r.TargetID)
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"header": header(n), "members": members(ms)}, nil
	}
	return nil, badRequest("unknown method " + strconv.Quote(method))
}

// serve decodes a request in the gateway's shape, has do answer it and converts the answer.
func serve[Req, Resp any](body []byte, do func(*Req) (Resp, error), conv func(Resp) map[string]any) (map[string]any, error) {
	var r Req
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, badRequest("bad request: " + err.Error())
	}
	resp, err := do(&r)
	if err != nil {
		return nil, err
	}
	return conv(resp), nil
}

// The single-key reads and writes are recorded for the linearizability check
// (cluster.History says which).

func recordRange(ctx context.Context, n *node.Node, r *core.RangeRequest) (*core.RangeResponse, error) {
	if len(r.RangeEnd) > 0 || r.Serializable || r.Revision != 0 || r.CountOnly || r.KeysOnly {
		return n.Range(ctx, r)
	}
	done := hist.Get(r.Key)
	resp, err := n.Range(ctx, r)
	if err != nil {
		done(false, nil, err)
	} else if len(resp.Kvs) > 0 {
		done(true, resp.Kvs[0].Value, nil)
	} else {
		done(false, nil, nil)
	}
	return resp, err
}

func recordPut(ctx context.Context, n *node.Node, r *core.PutRequest) (*core.PutResponse, error) {
	if r.IgnoreValue || r.IgnoreLease {
		return n.Put(ctx, r)
	}
	done := hist.Put(r.Key, r.Value, false)
	resp, err := n.Put(ctx, r)
	done(err)
	return resp, err
}

func recordDelete(ctx context.Context, n *node.Node, r *core.DeleteRangeRequest) (*core.DeleteRangeResponse, error) {
	if len(r.RangeEnd) > 0 {
		return n.DeleteRange(ctx, r)
	}
	done := hist.Put(r.Key, nil, true)
	resp, err := n.DeleteRange(ctx, r)
	done(err)
	return resp, err
}

// createWatch opens a watch stream with one watcher on the member's store; its responses,
// the created one first, come out in the steps' watch list until it ends or is cancelled.
func createWatch(n *node.Node, r *gateway.WatchCreate) (map[string]any, error) {
	ws := n.Store().NewWatchStream()
	if _, err := ws.Create(r.Core()); err != nil {
		ws.Close()
		return nil, err
	}
	id := streams.Add(ws)
	sid := gateway.Int64(id)
	go func() {
		for {
			select {
			case resp := <-ws.Chan():
				mu.Lock()
				events = append(events, watchEvent{Stream: sid, Result: gateway.WatchResponse(&resp)})
				mu.Unlock()
			case <-ws.Done():
				mu.Lock()
				events = append(events, watchEvent{Stream: sid, Result: map[string]any{"canceled": true,
					"cancel_reason": fmt.Sprintf("the watch ended: %s stopped", n.Config().Name)}})
				mu.Unlock()
				streams.Close(id)
				return
			}
		}
	}()
	return map[string]any{"stream": sid}, nil
}
