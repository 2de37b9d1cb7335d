//go:build !js

// Package browser drives Debian's Chromium (through chromedp) against a real member: the
// TypeScript client (web/client, built by `make web`) in a page served by the member itself.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/internal/testserver"
)

// page serves the client bundle and a page that loads it as window.m, with a client for
// the page's own origin as window.ms.
func page(t *testing.T) http.Handler {
	t.Helper()
	bundle, err := os.ReadFile(filepath.Join("..", "..", "web", "client", "dist", "metastore.js"))
	if err != nil {
		t.Fatalf("the client bundle is missing (run make web): %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "metastore.js"), bundle, 0o644)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><title>test</title><script type="module">
import * as m from "./metastore.js";
window.m = m;
window.ms = new m.MetaStore(location.origin);
window.enc = (s) => new TextEncoder().encode(s);
window.ready = true;
</script>`), 0o644)
	return http.FileServer(http.Dir(dir))
}

// patience is how long a test waits for something that should happen (a page to load, an
// event to arrive, a lease to expire): generous, since the machine may be busy; a test that
// passes waits only as long as it takes.
const patience = 30 * time.Second

// shared is the one Chromium the tests open their tabs in (browser): starting a browser per
// test cost seconds each on a loaded machine. Each test serves its page from a member of its
// own, so tabs never share an origin (nor its storage).
var shared struct {
	once   sync.Once
	ctx    context.Context // the browser's first tab, open until TestMain ends
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

// browser returns a new tab of the shared Chromium, or of a browser of its own when the test
// needs flags. Under CI a missing Chromium fails the test: `make test` installs it.
func browser(t *testing.T, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (make test installs it)")
		}
		t.Skip("chromium is not installed: apt-get install -y chromium")
	}
	start := func() (context.Context, func()) {
		opts := append(append(chromedp.DefaultExecAllocatorOptions[:], chromedp.Flag("disable-gpu", true)), flags...)
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancel2 := chromedp.NewContext(actx)
		return bctx, func() { cancel2(); cancel() }
	}
	var tab context.Context
	if len(flags) > 0 {
		ctx, cancel := start()
		t.Cleanup(cancel)
		tab = ctx
	} else {
		shared.once.Do(func() {
			shared.ctx, shared.cancel = start()
			shared.err = chromedp.Do(shared.ctx) // starts the browser; this tab stays open
		})
		if shared.err != nil {
			t.Fatalf("start chromium: %v", shared.err)
		}
		// A new tab in a browser context of its own (closed by cancel): the tab's store is
		// saved in IndexedDB by origin, and a later test's server may get the port, and so
		// the origin, of an earlier one; it then started from that test's keys.
		ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		tab = ctx
	}
	// A bound for a hung browser, not a speed check: the longest test (the console against
	// etcdctl, both modes at once) takes about a minute in its browser on an idle machine.
	ctx, cancel := context.WithTimeout(tab, 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// eval runs an async JavaScript function body in the page and decodes its JSON result.
func eval(t *testing.T, ctx context.Context, body string, out any) {
	t.Helper()
	js := "(async () => { " + body + " })().then(r => JSON.stringify(r, (k, v) => typeof v === 'bigint' ? v.toString() : v))"
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("in the page: %v\n%s", err, body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(s), out); err != nil {
			t.Fatalf("result %q: %v", s, err)
		}
	}
}

func open(t *testing.T) (context.Context, *clientv3.Client, string) {
	t.Helper()
	_, addr := testserver.Start(t, testserver.Options{UI: page(t)})
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/index.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("page did not load the client: %v", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return ctx, cli, addr
}

func TestBrowserKV(t *testing.T) {
	ctx, cli, _ := open(t)
	var got struct {
		Value, Rev, Count string
		Swapped, Failed   bool
		Err               string
		Code              int
	}
	eval(t, ctx, `
		await ms.put("app/a", "1");
		await ms.put("app/b", "2");
		const r = await ms.get("app/a");
		const all = await ms.get("app/", {prefix: true, countOnly: true});
		const cas = (v) => ms.txn({
			compare: [{key: enc("app/a"), target: 3, result: 0, targetUnion: {case: "value", value: enc(v)}}],
			success: [{request: {case: "requestPut", value: {key: enc("app/a"), value: enc("3")}}}],
		});
		const ok = await cas("1"), again = await cas("1");
		let err = "", code = 0;
		try { await ms.get(""); } catch (e) { err = e.message; code = e.code; }
		return {value: m.text(r.kvs[0].value), rev: r.header.revision, count: all.count,
			swapped: ok.succeeded, failed: !again.succeeded, err, code};`, &got)
	if got.Value != "1" || got.Rev != "3" || got.Count != "2" || !got.Swapped || !got.Failed ||
		got.Err != "etcdserver: key is not provided" || got.Code != 3 {
		t.Fatalf("from the page: %+v", got)
	}
	g, err := cli.Get(context.Background(), "app/a")
	if err != nil || string(g.Kvs[0].Value) != "3" {
		t.Fatalf("the page's txn, seen from Go: %v %v", g, err)
	}
}

// TestBrowserWatch: events written by a Go client reach a watch in the page, in order.
func TestBrowserWatch(t *testing.T) {
	ctx, cli, _ := open(t)
	bg := context.Background()
	// The watch starts at the next revision, so the writes below reach it however long it
	// takes to be created.
	eval(t, ctx, `
		window.events = [];
		const next = (await ms.get("jobs/")).header.revision + 1n;
		window.watchReady = (async () => {
			const it = ms.watch("jobs/", {prefix: true, prevKv: true, startRevision: next});
			window.watchIt = it;
			for await (const b of it) for (const e of b.events)
				window.events.push((e.type === 1 ? "DELETE " : "PUT ") + m.text(e.kv.key) + "=" + m.text(e.kv.value) +
					(e.prevKv ? " was " + m.text(e.prevKv.value) : ""));
		})();
		return true;`, nil)
	cli.Put(bg, "jobs/1", "queued")
	cli.Put(bg, "jobs/1", "done")
	cli.Delete(bg, "jobs/1")
	want := `["PUT jobs/1=queued","PUT jobs/1=done was queued","DELETE jobs/1= was done"]`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.events.length >= 3`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("events did not arrive: %v", err)
	}
	var got []string
	eval(t, ctx, `return window.events;`, &got)
	if b, _ := json.Marshal(got); string(b) != want {
		t.Fatalf("events %s, want %s", b, want)
	}

	// Throughput into the tab, for the record.
	const n = 2000
	eval(t, ctx, `window.events = []; return true;`, nil)
	start := time.Now()
	for i := 0; i < n; i += 100 {
		ops := make([]clientv3.Op, 100)
		for j := range ops {
			ops[j] = clientv3.OpPut(fmt.Sprintf("jobs/%d", i+j), "x")
		}
		if _, err := cli.Txn(bg).Then(ops...).Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`window.events.length >= %d`, n), chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("not all %d events arrived: %v", n, err)
	}
	t.Logf("%d watch events delivered into the tab in %v (%.0f events/s)", n, time.Since(start), n/time.Since(start).Seconds())
}

// TestBrowserLease: the page keeps a lease alive past its TTL, then stops, and the key goes.
// The TTL leaves the page's renewals (every TTL/3) seconds of slack on a busy machine.
func TestBrowserLease(t *testing.T) {
	ctx, cli, _ := open(t)
	var id string
	eval(t, ctx, `
		const l = await ms.lease.grant(4);
		await ms.put("presence/tab", "here", {lease: l.ID});
		window.ka = ms.lease.keepAlive(l.ID);
		return l.ID;`, &id)
	// Real time past the TTL: only the renewals can have kept the key (a slower machine only
	// lets more time pass).
	time.Sleep(6 * time.Second)
	if g, err := cli.Get(context.Background(), "presence/tab"); err != nil || len(g.Kvs) != 1 {
		t.Fatalf("key of a kept-alive lease gone: %v %v", g, err)
	}
	var ttl struct{ TTL, GrantedTTL string }
	eval(t, ctx, `const r = await ms.lease.timeToLive(BigInt("`+id+`")); return {TTL: r.TTL, GrantedTTL: r.grantedTTL};`, &ttl)
	if ttl.GrantedTTL != "4" {
		t.Fatalf("time to live: %+v", ttl)
	}
	eval(t, ctx, `window.ka.stop(); return true;`, nil)
	deadline := time.Now().Add(patience)
	for {
		g, err := cli.Get(context.Background(), "presence/tab")
		if err == nil && len(g.Kvs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease did not expire after the page stopped its keep-alives")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBrowserLatency measures unary round trips from the tab, for the record.
func TestBrowserLatency(t *testing.T) {
	ctx, _, _ := open(t)
	var r struct{ PutMs, GetMs float64 }
	eval(t, ctx, `
		const n = 200;
		let t0 = performance.now();
		for (let i = 0; i < n; i++) await ms.put("lat/" + i, "v");
		const put = (performance.now() - t0) / n;
		t0 = performance.now();
		for (let i = 0; i < n; i++) await ms.get("lat/" + i);
		return {putMs: put, getMs: (performance.now() - t0) / n};`, &r)
	if r.PutMs <= 0 || r.GetMs <= 0 {
		t.Fatalf("%+v", r)
	}
	t.Logf("unary round trip from the tab: put %.2f ms, get %.2f ms (mean of 200)", r.PutMs, r.GetMs)
}

// TestBrowserWatchResumes: the member restarts under a watching page; the watch reconnects
// from the revision after the last event it saw, so it gets what was written meanwhile,
// once each, and a watch from a compacted revision fails with CompactedError.
func TestBrowserWatchResumes(t *testing.T) {
	dir := t.TempDir()
	ui := page(t)
	srv, addr := testserver.Start(t, testserver.Options{UI: ui, DataDir: dir})
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/index.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatal(err)
	}
	// From the next revision: the puts below reach the watch however long it takes to start.
	eval(t, ctx, `
		window.events = [];
		const next = (await ms.get("r/")).header.revision + 1n;
		(async () => { for await (const b of ms.watch("r/", {prefix: true, startRevision: next}))
			for (const e of b.events) window.events.push(m.text(e.kv.key)); })()
			.catch((e) => window.events.push("error: " + e.name + ": " + e.message));
		return true;`, nil)
	put := func(k string) {
		t.Helper()
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if _, err := cli.Put(context.Background(), k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	put("r/1")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.events.length === 1`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatal(err)
	}
	srv.Stop() // with the page's watch open: must not wait for the browser
	testserver.Start(t, testserver.Options{UI: ui, DataDir: dir, Addr: addr})
	put("r/2")
	put("r/3")
	// Events come in revision order: once r/end's has come, a repeated or lost one would show.
	put("r/end")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.events.includes("r/end") || window.events.some((e) => e.startsWith("error"))`, chromedp.WithPollingTimeout(patience))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.events)`))
		t.Fatalf("the watch did not resume: %v (events %s)", err, got)
	}
	var got []string
	eval(t, ctx, `return window.events;`, &got)
	if b, _ := json.Marshal(got); string(b) != `["r/1","r/2","r/3","r/end"]` {
		t.Fatalf("events across the restart: %s", b)
	}
	var e struct{ Name, Rev string }
	eval(t, ctx, `
		const r = await ms.put("r/4", "v");
		await ms.compact(r.header.revision);
		try { for await (const b of ms.watch("r/", {prefix: true, startRevision: 2n})) {} }
		catch (err) { return {name: err.name, rev: err.compactRevision}; }
		return {name: "none"};`, &e)
	if e.Name != "CompactedError" || e.Rev == "" {
		t.Fatalf("watch below the compact revision: %+v", e)
	}
}
