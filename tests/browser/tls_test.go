//go:build !js

package browser

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/internal/testcerts"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/tlsutil"
)

// TestBrowserOverTLS: a page served by a member on an https:// URL uses the TypeScript client
// on its own origin: unary calls (gRPC-Web, over HTTP/2 by ALPN), a watch and a lease
// keep-alive (WebSocket over wss), with a Go client over TLS on the same port. Chromium is told to
// accept the test CA's certificate.
func TestBrowserOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue("server", "metastore", "127.0.0.1")
	_, addr := testserver.Start(t, testserver.Options{UI: page(t),
		TLS: &tlsutil.Info{CertFile: srv.CertFile, KeyFile: srv.KeyFile}})
	ctx := browser(t, chromedp.Flag("ignore-certificate-errors", true))
	if err := chromedp.Do(ctx, chromedp.Navigate("https://"+addr+"/index.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("page over https did not load the client: %v", err)
	}
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + addr}, DialTimeout: 5 * time.Second,
		TLS: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	var got struct{ Value, Proto string }
	eval(t, ctx, `
		await ms.put("tls/a", "1");
		const r = await ms.get("tls/a");
		window.events = [];
		const next = r.header.revision + 1n;
		(async () => { for await (const b of ms.watch("tls/", {prefix: true, startRevision: next}))
			for (const e of b.events) window.events.push(m.text(e.kv.key) + "=" + m.text(e.kv.value)); })();
		const nav = performance.getEntriesByType("navigation")[0];
		return {value: m.text(r.kvs[0].value), proto: nav.nextHopProtocol};`, &got)
	if got.Value != "1" || got.Proto != "h2" {
		t.Fatalf("from the page over https: %+v (want value 1 over h2)", got)
	}
	if _, err := cli.Put(context.Background(), "tls/b", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.events.includes("tls/b=2")`, chromedp.WithPollingTimeout(patience))); err != nil {
		var ev []string
		eval(t, ctx, `return window.events;`, &ev)
		t.Fatalf("watch over wss saw %v: %v", ev, err)
	}

	// Keep-alive over wss: a lease whose remaining time has dropped is renewed to its TTL.
	lease, err := cli.Grant(context.Background(), 30)
	if err != nil {
		t.Fatal(err)
	}
	ttl := func() int64 {
		r, err := cli.TimeToLive(context.Background(), lease.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.TTL
	}
	waitTrue(t, "the lease's remaining time to drop", func() bool { return ttl() <= 28 })
	eval(t, ctx, fmt.Sprintf(`window.ka = ms.lease.keepAlive(%dn); return true;`, lease.ID), nil)
	waitTrue(t, "the page's keep-alive to renew the lease", func() bool { return ttl() >= 29 })
	eval(t, ctx, `window.ka.stop(); return true;`, nil)
}

// waitTrue polls cond until it holds, for up to patience.
func waitTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}
