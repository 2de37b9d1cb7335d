//go:build !js

package browser

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWasmInTab builds the core for WebAssembly (wasm/) and uses it from a page with no
// server behind it: etcd's semantics, errors, a watch and lease expiry, all in the tab.
func TestWasmInTab(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", filepath.Join(dir, "metastore.wasm"), "./wasm")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the wasm: %v\n%s", err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	execJS, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "wasm_exec.js"), execJS, 0o644)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><title>wasm</title>
<script src="wasm_exec.js"></script>
<script>
const go = new Go();
WebAssembly.instantiateStreaming(fetch("metastore.wasm"), go.importObject).then((r) => {
	go.run(r.instance);
	window.call = async (method, req) => JSON.parse(await metastore.call(method, JSON.stringify(req)));
	window.ready = true;
});
</script>`), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/index.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("the wasm did not start: %v", err)
	}

	var kv struct {
		Rev, Value, Count string
		Swapped           bool
		Code              int
		Err               string
	}
	eval(t, ctx, `
		await call("put", {key: btoa("a"), value: btoa("1")});
		await call("put", {key: btoa("b"), value: btoa("2")});
		const r = await call("range", {key: btoa("a")});
		const all = await call("range", {key: btoa("a"), range_end: btoa("c"), count_only: true});
		const t = await call("txn", {compare: [{key: btoa("a"), target: 3, result: 0, value: btoa("1")}],
			success: [{request_put: {key: btoa("a"), value: btoa("3")}}]});
		let code = 0, err = "";
		try { await call("range", {}); } catch (e) { code = e.code; err = e.message; }
		return {rev: r.header.revision, value: atob(r.kvs[0].value), count: all.count, swapped: t.succeeded, code, err};`, &kv)
	if kv.Rev != "3" || kv.Value != "1" || kv.Count != "2" || !kv.Swapped || kv.Code != 3 || kv.Err != "etcdserver: key is not provided" {
		t.Fatalf("in the tab: %+v", kv)
	}

	var w struct {
		Created bool
		Events  []string
	}
	eval(t, ctx, `
		const c = await call("watch.create", {key: btoa("w/"), range_end: btoa("w0"), prev_kv: true});
		await call("put", {key: btoa("w/1"), value: btoa("x")});
		await call("deleterange", {key: btoa("w/1")});
		const events = [];
		while (events.length < 2) {
			const n = await call("watch.next", {stream: c.stream});
			for (const e of n.result.events) events.push((e.type === 1 ? "DELETE " : "PUT ") + atob(e.kv.key));
		}
		await call("watch.cancel", {stream: c.stream});
		return {created: c.result.created, events};`, &w)
	if !w.Created || len(w.Events) != 2 || w.Events[0] != "PUT w/1" || w.Events[1] != "DELETE w/1" {
		t.Fatalf("watch in the tab: %+v", w)
	}

	var gone bool
	eval(t, ctx, fmt.Sprintf(`
		const l = await call("lease.grant", {TTL: "2"});
		await call("put", {key: btoa("eph"), value: btoa("v"), lease: l.ID});
		for (const end = performance.now() + %d; performance.now() < end; await new Promise((r) => setTimeout(r, 100)))
			if ((await call("range", {key: btoa("eph")})).kvs.length === 0) return true;
		return false;`, patience.Milliseconds()), &gone)
	if !gone {
		t.Fatalf("a 2 s lease did not expire in the tab within %v", patience)
	}

	// The page's clock: paused, a lease outlives its TTL; advanced, it expires at once.
	var clk struct {
		KeptWhilePaused, GoneAfterAdvance bool
		Paused                            bool
		Ahead                             string `json:"ahead_ms"`
	}
	eval(t, ctx, `
		await call("clock", {action: "pause"});
		const l = await call("lease.grant", {TTL: "2"});
		await call("put", {key: btoa("paused"), value: btoa("v"), lease: l.ID});
		await new Promise((r) => setTimeout(r, 2500)); // past the TTL in real time: it must not expire
		const kept = (await call("range", {key: btoa("paused")})).kvs.length === 1;
		const st = await call("clock", {action: "advance", seconds: "60"});
		const gone = (await call("range", {key: btoa("paused")})).kvs.length === 0;
		await call("clock", {action: "resume"});
		return {keptWhilePaused: kept, goneAfterAdvance: gone, paused: st.paused, ahead_ms: st.ahead_ms};`, &clk)
	if !clk.KeptWhilePaused || !clk.GoneAfterAdvance || !clk.Paused || clk.Ahead == "" || clk.Ahead[0] == '-' || clk.Ahead == "0" {
		t.Fatalf("the page clock: %+v", clk)
	}

	// Snapshot, reset, restore: the whole state, history and leases included; a bad
	// snapshot is refused and leaves the store as it was.
	var snap struct {
		EmptyAfterReset, BadRefused, Restored bool
		Rev, OldValue, LeaseTTL               string
	}
	eval(t, ctx, `
		const l = await call("lease.grant", {TTL: "600"});
		await call("put", {key: btoa("s"), value: btoa("old")});
		await call("put", {key: btoa("s"), value: btoa("new"), lease: l.ID});
		const before = await call("range", {key: btoa("s")});
		const s = (await call("snapshot", {})).snapshot;
		await call("reset", {});
		const empty = (await call("range", {key: btoa("s")})).kvs.length === 0;
		let bad = false;
		try { await call("restore", {snapshot: btoa("not a snapshot")}); } catch (e) { bad = true; }
		const stillEmpty = (await call("range", {key: btoa("s")})).kvs.length === 0;
		await call("restore", {snapshot: s});
		const after = await call("range", {key: btoa("s")});
		const old = await call("range", {key: btoa("s"), revision: String(BigInt(before.header.revision) - 1n)});
		const ttl = await call("lease.timetolive", {ID: l.ID});
		return {emptyAfterReset: empty, badRefused: bad && stillEmpty,
			restored: atob(after.kvs[0].value) === "new" && after.header.revision === before.header.revision && after.kvs[0].lease === l.ID,
			rev: after.header.revision, oldValue: atob(old.kvs[0].value), leaseTTL: ttl.grantedTTL};`, &snap)
	if !snap.EmptyAfterReset || !snap.BadRefused || !snap.Restored || snap.OldValue != "old" || snap.LeaseTTL != "600" {
		t.Fatalf("snapshot/restore in the tab: %+v", snap)
	}

	// batch runs requests in order, each on its own; an error names etcd's code; scratch.
	// methods leave the page's store alone.
	var batch struct {
		Puts, Value, Err string
		Code             int
		ScratchSeen      bool
		Untouched        bool
	}
	eval(t, ctx, `
		const r = await call("batch", {requests: [
			{request_put: {key: btoa("b1"), value: btoa("1")}},
			{request_put: {key: btoa("b2"), value: btoa("2")}},
			{request_range: {key: btoa("b1"), range_end: btoa("b3")}}]});
		let err = "", code = 0;
		try { await call("batch", {requests: [{request_put: {key: btoa("b3"), value: btoa("3")}}, {request_range: {}}]}); }
		catch (e) { err = e.message; code = e.code; }
		const rev = (await call("status", {})).header.revision;
		await call("scratch.put", {key: btoa("scratch"), value: btoa("x")});
		const seen = (await call("scratch.range", {key: btoa("scratch")})).kvs.length === 1;
		const untouched = (await call("range", {key: btoa("scratch")})).kvs.length === 0 && (await call("status", {})).header.revision === rev;
		let refused = 0;
		for (const m of ["reset", "restore", "clock", "watch.create", "status"])
			try { await call("scratch." + m, {}); } catch (e) { refused++; }
		await call("scratch.drop", {});
		return {puts: r.responses[2].response_range.count, value: atob(r.responses[2].response_range.kvs[1].value),
			err, code, scratchSeen: seen, untouched: untouched && refused === 5 && (await call("range", {key: btoa("b1")})).kvs.length === 1};`, &batch)
	if batch.Puts != "2" || batch.Value != "2" || batch.Code != 3 || batch.Err != "etcdserver: key is not provided" || !batch.ScratchSeen || !batch.Untouched {
		t.Fatalf("batch in the tab: %+v", batch)
	}

	// putMany, the bulk path: records in one Uint8Array, each its own revision; a cut record
	// is refused after the whole ones before it.
	var bulk struct {
		Rev, Before, Value, Err string
		Code                    int
		ScratchRev              string
	}
	eval(t, ctx, `
		const e = new TextEncoder();
		const rec = (k, v) => [k.length, ...e.encode(k), v.length, ...e.encode(v)];
		const before = (await call("status", {})).header.revision;
		const [rev, err1] = metastore.putMany(new Uint8Array([...rec("m1", "a"), ...rec("m2", "b")]), false);
		const v = atob((await call("range", {key: btoa("m2")})).kvs[0].value);
		const [none, err] = metastore.putMany(new Uint8Array([...rec("m3", "c"), 5, 1, 2]), false);
		const [srev] = metastore.putMany(new Uint8Array(rec("s", "x")), true);
		await call("scratch.drop", {});
		return {rev: err1 ? err1.message : rev, before, value: v, err: err.message, code: err.code, scratchRev: srev};`, &bulk)
	if b, _ := strconv.Atoi(bulk.Before); bulk.Rev != strconv.Itoa(b+2) || bulk.Value != "b" ||
		bulk.Code != 3 || bulk.Err != "putMany: record 1 is cut short" || bulk.ScratchRev != "2" {
		t.Fatalf("putMany: %+v", bulk)
	}

	var sync struct{ PutsPerSec, RangesPerSec float64 }
	eval(t, ctx, `
		const n = 100000;
		const [ok, err] = metastore.callSync("range", "{}");
		if (ok !== null || err.code !== 3) throw new Error("callSync error shape");
		let t0 = performance.now();
		for (let i = 0; i < n; i++) metastore.callSync("put", '{"key":"cGVyZg==","value":"dg=="}');
		const puts = n / ((performance.now() - t0) / 1000);
		t0 = performance.now();
		for (let i = 0; i < n; i++) metastore.callSync("range", '{"key":"cGVyZg=="}');
		return {putsPerSec: puts, rangesPerSec: n / ((performance.now() - t0) / 1000)};`, &sync)
	t.Logf("in the tab, synchronous bridge calls: %.0f puts/s, %.0f ranges/s", sync.PutsPerSec, sync.RangesPerSec)

	var core struct {
		Puts   float64 `json:"puts_per_sec"`
		Ranges float64 `json:"ranges_per_sec"`
	}
	eval(t, ctx, `return await call("bench", {n: 200000});`, &core)
	if core.Puts <= 0 || core.Ranges <= 0 {
		t.Fatalf("bench: %+v", core)
	}
	t.Logf("the core in the tab (wasm, no bridge per call): %.0f puts/s, %.0f ranges/s", core.Puts, core.Ranges)

	var perf struct{ PutsPerSec, RangesPerSec float64 }
	eval(t, ctx, `
		const n = 20000;
		let t0 = performance.now();
		for (let i = 0; i < n; i++) await metastore.call("put", '{"key":"`+"cGVyZg=="+`","value":"dg=="}');
		const puts = n / ((performance.now() - t0) / 1000);
		t0 = performance.now();
		for (let i = 0; i < n; i++) await metastore.call("range", '{"key":"cGVyZg=="}');
		return {putsPerSec: puts, rangesPerSec: n / ((performance.now() - t0) / 1000)};`, &perf)
	t.Logf("in the tab, one call at a time through the JS bridge: %.0f puts/s, %.0f ranges/s", perf.PutsPerSec, perf.RangesPerSec)
}
