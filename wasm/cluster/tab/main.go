//go:build js && wasm

// Command tab is the in-tab cluster compiled to WebAssembly (issue #14): the server's member
// code, several members in the tab over a simulated network (wasm/cluster), behind a thin
// syscall/js bridge. The playground loads it on demand, apart from the single store's module.
//
// It defines globalThis.metastoreCluster.call(method, requestJSON) → Promise<responseJSON>,
// rejecting with {code, message} (etcd's gRPC code and text), as metastore.call does.
// Methods:
//   - cluster.start {members, seed}: a new cluster (replacing any), on a virtual clock
//     running at 1×; cluster.status → {members: [{name, id, running, role, term, leader,
//     commit, applied}]};
//   - cluster.stop, cluster.restart, cluster.isolate {member}; cluster.heal;
//   - cluster.clock {speed} (0 pauses; 1 is real time) or {step_ms}: the time every member's
//     ticks, elections and leases run on;
//   - range, put, deleterange, txn, with "member" naming the member asked (like etcdctl's
//     --endpoints), in etcd's JSON gateway shapes; headers carry that member's cluster_id,
//     member_id and raft_term.
package main

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/wasm/cluster"
	"github.com/metastore/metastore/wasm/gateway"
	"github.com/metastore/metastore/wasm/promise"
)

// tick is how often the driver moves the virtual clock.
const tick = 10 * time.Millisecond

var (
	mu    sync.Mutex
	c     *cluster.Cluster
	clk   *clock.Manual
	speed = 1.0
)

func main() {
	go drive()
	js.Global().Set("metastoreCluster", js.ValueOf(map[string]any{"call": js.FuncOf(call)}))
	select {}
}

// drive moves the virtual clock by tick × speed every tick of the page's time.
func drive() {
	for range time.Tick(tick) {
		mu.Lock()
		k, s := clk, speed
		mu.Unlock()
		if k != nil && s > 0 {
			k.Advance(time.Duration(float64(tick) * s))
		}
	}
}

func call(_ js.Value, args []js.Value) any {
	if len(args) < 2 {
		return promise.Reject(core.CodeInvalidArgument, "metastoreCluster.call(method, requestJSON)")
	}
	method, body := args[0].String(), []byte(args[1].String())
	return promise.Run(func() (any, error) { return dispatch(method, body) }, status)
}

// status is node.Status, but a request the bridge cannot read is InvalidArgument.
func status(err error) (core.Code, string) {
	if b, ok := err.(badRequest); ok {
		return core.CodeInvalidArgument, string(b)
	}
	return node.Status(err)
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

// errNoCluster is what a call before cluster.start gets.
var errNoCluster = badRequest("no cluster: call cluster.start first")

func running() (*cluster.Cluster, error) {
	mu.Lock()
	defer mu.Unlock()
	if c == nil {
		return nil, errNoCluster
	}
	return c, nil
}

func dispatch(method string, body []byte) (any, error) {
	var target struct {
		Member  string  `json:"member"`
		Members int     `json:"members"`
		Seed    int64   `json:"seed,string"`
		Speed   float64 `json:"speed"`
		StepMS  int64   `json:"step_ms"`
	}
	if err := json.Unmarshal(body, &target); err != nil {
		return nil, badRequest("bad request: " + err.Error())
	}
	switch method {
	case "cluster.start":
		return start(target.Members, target.Seed)
	case "cluster.clock":
		mu.Lock()
		k := clk
		if target.StepMS == 0 {
			speed = target.Speed
		}
		mu.Unlock()
		if k != nil && target.StepMS > 0 {
			k.Advance(time.Duration(target.StepMS) * time.Millisecond)
		}
		return map[string]any{}, nil
	}
	cl, err := running()
	if err != nil {
		return nil, err
	}
	switch method {
	case "cluster.status":
		return map[string]any{"members": cl.Status()}, nil
	case "cluster.stop":
		return map[string]any{}, cl.Stop(target.Member)
	case "cluster.restart":
		return map[string]any{}, cl.Start(target.Member)
	case "cluster.isolate":
		return map[string]any{}, cl.Isolate(target.Member)
	case "cluster.heal":
		cl.Heal()
		return map[string]any{}, nil
	}
	n := cl.Node(target.Member)
	if n == nil {
		return nil, node.ErrStopped
	}
	// The member's own request timeout bounds the wait; this only keeps a call from
	// outliving a paused clock forever.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		out  map[string]any
		err2 error
	)
	switch method {
	case "range":
		out, err2 = serve(body, func(r *gateway.RangeRequest) (*core.RangeResponse, error) { return n.Range(ctx, r.Core()) }, gateway.RangeResponse)
	case "put":
		out, err2 = serve(body, func(r *gateway.PutRequest) (*core.PutResponse, error) { return n.Put(ctx, r.Core()) }, gateway.PutResponse)
	case "deleterange":
		out, err2 = serve(body, func(r *gateway.DeleteRequest) (*core.DeleteRangeResponse, error) { return n.DeleteRange(ctx, r.Core()) }, gateway.DeleteResponse)
	case "txn":
		out, err2 = serve(body, func(r *gateway.TxnRequest) (*core.TxnResponse, error) { return n.Txn(ctx, r.Core()) }, gateway.TxnResponse)
	default:
		return nil, badRequest("unknown method " + strconv.Quote(method))
	}
	if err2 != nil {
		return nil, err2
	}
	h := out["header"].(map[string]any)
	nh := n.Header()
	h["cluster_id"] = strconv.FormatUint(nh.ClusterID, 10)
	h["member_id"] = strconv.FormatUint(nh.MemberID, 10)
	h["raft_term"] = strconv.FormatUint(nh.RaftTerm, 10)
	return out, nil
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

// start replaces the running cluster (if any) with a new one of n members.
func start(n int, seed int64) (any, error) {
	if n != 0 && (n < 1 || n > 7) {
		return nil, badRequest("members: 1 to 7")
	}
	mu.Lock()
	old := c
	c, clk, speed = nil, nil, 1
	mu.Unlock()
	if old != nil {
		old.Close()
	}
	k := clock.NewManual(time.Now())
	cl, err := cluster.New(cluster.Config{Size: n, Seed: seed, Clock: k})
	if err != nil {
		return nil, err
	}
	mu.Lock()
	c, clk = cl, k
	mu.Unlock()
	return map[string]any{"members": cl.Status()}, nil
}
