//go:build !js

package browser

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/testcerts"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/tlsutil"
)

// TestBrowserAuth: the TypeScript client against a member with auth on, over https (unary
// calls over gRPC-Web with the token in a header, Watch and LeaseKeepAlive over wss with the
// token in the stream's header block). Without credentials it is refused; with a reader's it
// reads its prefix and nothing else, watches its prefix and is refused a watch elsewhere; a
// granted permission counts from the next call; after its token is dropped (auth turned off
// and on, a password change) it logs in again by itself; with a changed password it fails
// once, not forever. A page on another origin sends the token too (CORS lets the header
// through). Auth is set up and changed from Go with clientv3.
func TestBrowserAuth(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	cert := ca.Issue("server", "metastore", "127.0.0.1", "localhost")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	// The page is at https://127.0.0.1:port; https://localhost:port is another origin on the
	// same member, allowed by --cors.
	pageOrigin, otherOrigin := "https://"+addr, "https://localhost:"+port
	testserver.Start(t, testserver.Options{UI: page(t), Addr: addr, CORS: grpcweb.Origins{pageOrigin},
		TLS: &tlsutil.Info{CertFile: cert.CertFile, KeyFile: cert.KeyFile}, Node: node.Config{BcryptCost: 4}})

	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tlsConf := &tls.Config{RootCAs: roots}
	bg := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Root, a role reading app/, the user alice with it; then auth on.
	dial := setupAuth(t, pageOrigin, tlsConf, "pw1").dial
	root := dial("root", "rootpw")

	// tokenDropped reports whether the member now refuses a token it gave alice before: raw
	// gRPC, since clientv3 would log in again.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	aliceToken := func(password string) string {
		t.Helper()
		r, err := root.Authenticate(bg, "alice", password)
		if err != nil {
			t.Fatal(err)
		}
		return r.Token
	}
	tokenDropped := func(token string) bool {
		t.Helper()
		ctx := metadata.AppendToOutgoingContext(bg, "token", token)
		_, err := pb.NewKVClient(conn).Range(ctx, &pb.RangeRequest{Key: []byte("app/a")})
		return status.Convert(err).Message() == "etcdserver: invalid auth token"
	}

	ctx := browser(t, chromedp.Flag("ignore-certificate-errors", true))
	if err := chromedp.Do(ctx, chromedp.Navigate(pageOrigin+"/index.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(patience))); err != nil {
		t.Fatalf("page over https did not load the client: %v", err)
	}
	// outcome(f) is "ok" or the error's code and message; watchOutcome(w) that of the first
	// delivery of a watch (or of its end).
	eval(t, ctx, `
		window.outcome = async (f) => { try { await f(); return "ok"; } catch (e) { return e.name + " " + e.code + " " + e.message; } };
		window.watchOutcome = (w) => outcome(async () => { for await (const b of w) return; throw new Error("ended"); });
		window.alice = new m.MetaStore(location.origin, {username: "alice", password: "pw1"});
		return true;`, nil)
	check := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s:\n got %s\nwant %s", what, g, w)
		}
	}
	const (
		ok         = "ok"
		userEmpty  = "MetaStoreError 3 etcdserver: user name is empty"
		denied     = "MetaStoreError 7 etcdserver: permission denied"
		authFailed = "MetaStoreError 3 etcdserver: authentication failed, invalid user ID or password"
	)

	// Without credentials: refused, unary and watch alike.
	var anon struct{ Get, Put, Watch string }
	eval(t, ctx, `
		const anon = new m.MetaStore(location.origin);
		return {get: await outcome(() => anon.get("app/a")), put: await outcome(() => anon.put("app/a", "x")),
			watch: await watchOutcome(anon.watch("app/", {prefix: true}))};`, &anon)
	check("without credentials", anon, struct{ Get, Put, Watch string }{userEmpty, userEmpty, userEmpty})

	// The reader: its prefix, and nothing else; the same from another origin.
	var reader struct {
		Value, Put, Other, Range, Status, UserAdd, OtherOrigin, OtherOriginPut string
	}
	eval(t, ctx, `
		const r = await alice.get("app/a");
		const other = new m.MetaStore("`+otherOrigin+`", {username: "alice", password: "pw1"});
		return {value: m.text(r.kvs[0].value),
			put: await outcome(() => alice.put("app/b", "2")),
			other: await outcome(() => alice.get("secret/x")),
			range: await outcome(() => alice.get("app", {prefix: true})),
			status: await outcome(() => alice.auth.status()),
			userAdd: await outcome(() => alice.auth.userAdd("mallory", "x")),
			otherOrigin: await outcome(async () => { if (m.text((await other.get("app/a")).kvs[0].value) !== "1") throw new Error("wrong value"); }),
			otherOriginPut: await outcome(() => other.put("app/b", "2"))};`, &reader)
	check("the reader", reader, struct {
		Value, Put, Other, Range, Status, UserAdd, OtherOrigin, OtherOriginPut string
	}{"1", denied, denied, denied, denied, denied, ok, denied})

	// A watch on its prefix gets events; one elsewhere is refused, with the server's reason.
	var refused string
	eval(t, ctx, `
		window.events = [];
		const next = (await alice.get("app/a")).header.revision + 1n;
		(async () => { for await (const b of alice.watch("app/", {prefix: true, startRevision: next}))
			for (const e of b.events) events.push(m.text(e.kv.key) + "=" + m.text(e.kv.value)); })()
			.catch((e) => events.push("error: " + e.message));
		return await watchOutcome(alice.watch("secret/", {prefix: true}));`, &refused)
	check("a watch outside the reader's prefix", refused, denied)
	must(root.Put(bg, "app/c", "3"))
	waitEvents := func(want string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`events.includes(%q) || events.some((e) => e.startsWith("error"))`, want),
			chromedp.WithPollingTimeout(patience))); err != nil {
			t.Fatalf("event %s did not arrive: %v", want, err)
		}
		var got []string
		eval(t, ctx, `return events;`, &got)
		if last := got[len(got)-1]; last != want {
			t.Fatalf("events %q, want the last to be %s", got, want)
		}
	}
	waitEvents("app/c=3")

	// A lease kept alive over wss with the token (the first renewal needs it).
	var leaseID string
	eval(t, ctx, `
		const l = await alice.lease.grant(6);
		window.kaErr = "";
		window.ka = alice.lease.keepAlive(l.ID, (e) => { kaErr = "expired: " + (e ? e.message : "gone"); });
		return l.ID;`, &leaseID)
	var id int64
	fmt.Sscan(leaseID, &id)
	ttl := func() int64 {
		r, err := root.TimeToLive(bg, clientv3.LeaseID(id))
		if err != nil {
			t.Fatal(err)
		}
		return r.TTL
	}
	renewed := func(when string) {
		t.Helper()
		waitTrue(t, "the lease's time to drop "+when, func() bool { return ttl() <= 4 })
		waitTrue(t, "the page to renew the lease "+when, func() bool { return ttl() >= 5 })
	}
	renewed("with the page's token")

	// Write granted: the next call may write, the open watch goes on.
	must(root.RoleGrantPermission(bg, "reader", "app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermReadWrite)))
	var put string
	eval(t, ctx, `return await outcome(() => alice.put("app/b", "2"));`, &put)
	check("a put once write is granted", put, ok)
	waitEvents("app/b=2")
	if g, err := root.Get(bg, "app/b"); err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "2" {
		t.Fatalf("the page's put, seen from Go: %v %v", g, err)
	}

	// Auth off and on drops every token: the page logs in again (and a client that logged in
	// while auth was off, so has no token, does too); the lease's keep-alive stream reopens.
	old := aliceToken("pw1")
	must(root.AuthDisable(bg))
	var off string
	eval(t, ctx, `
		window.late = new m.MetaStore(location.origin, {username: "alice", password: "pw1"});
		return await outcome(() => late.get("app/a"));`, &off)
	check("a client that logs in while auth is off", off, ok)
	must(root.AuthEnable(bg))
	if !tokenDropped(old) {
		t.Fatal("a token from before auth was turned off and on still works")
	}
	var again struct{ Get, Late, Watch string }
	eval(t, ctx, `
		return {get: await outcome(() => alice.get("app/a")), late: await outcome(() => late.get("app/a")),
			watch: await outcome(async () => { for await (const b of late.watch("app/", {prefix: true, startRevision: 1n})) return; })};`, &again)
	check("after auth off and on", again, struct{ Get, Late, Watch string }{ok, ok, ok})
	renewed("after auth off and on")

	// A password change drops the user's tokens: with the same password the page logs in
	// again; with the old one it fails once (not forever), and a client with the new one works.
	old = aliceToken("pw1")
	must(root.UserChangePassword(bg, "alice", "pw1"))
	if !tokenDropped(old) {
		t.Fatal("a token from before the password change still works")
	}
	eval(t, ctx, `return await outcome(() => alice.put("app/d", "4"));`, &put)
	check("a put after the user's tokens were dropped", put, ok)
	waitEvents("app/d=4")
	// The keep-alive ends here, before alice's password changes under it (its next login
	// would then fail, whenever its next renewal falls).
	var kaErr string
	eval(t, ctx, `ka.stop(); return kaErr;`, &kaErr)
	check("the keep-alive's end", kaErr, "")
	must(root.UserChangePassword(bg, "alice", "pw2"))
	var changed struct{ Old, New, NewWatch string }
	eval(t, ctx, `
		const next = new m.MetaStore(location.origin, {username: "alice", password: "pw2"});
		return {old: await outcome(() => alice.get("app/a")), new: await outcome(() => next.get("app/a")),
			newWatch: await outcome(async () => { for await (const b of next.watch("app/", {prefix: true, startRevision: 1n})) return; })};`, &changed)
	check("after a password change", changed, struct{ Old, New, NewWatch string }{authFailed, ok, ok})

	// The Auth API from the page, as root: a writer role and a user with it.
	var admin struct {
		Enabled       bool
		Roles         []string
		Token, BobPut string
	}
	eval(t, ctx, `
		const root = new m.MetaStore(location.origin, {username: "root", password: "rootpw"});
		await root.auth.roleAdd("writer");
		await root.auth.roleGrantPermission("writer", "w/", m.Permission_Type.READWRITE, {prefix: true});
		await root.auth.userAdd("bob", "bobpw");
		await root.auth.userGrantRole("bob", "writer");
		const bob = new m.MetaStore(location.origin, {username: "bob", password: "bobpw"});
		return {enabled: (await root.auth.status()).enabled, roles: (await root.auth.roleList()).roles,
			token: (await root.auth.authenticate("bob", "bobpw")).token ? "some" : "none",
			bobPut: await outcome(() => bob.put("w/1", "x"))};`, &admin)
	if !admin.Enabled || fmt.Sprint(admin.Roles) != "[reader writer]" || admin.Token != "some" || admin.BobPut != ok {
		t.Errorf("the Auth API from the page: %+v", admin)
	}

}
