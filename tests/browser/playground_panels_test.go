//go:build !js

package browser

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/web"
)

// What a newcomer tripped over in the playground's panels and page (issue #14), each checked
// as a person would see it. No test sleeps: each waits (up to patience) for what should show.

// clickWhenShown clicks sel once it is shown and enabled. chromedp's Click waits for a missing
// element until the browser's context ends: a control the page lacks fails here, in patience.
func clickWhenShown(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null && !e.disabled; })()`, sel),
		"not shown (or disabled): "+sel)
	click(t, ctx, sel)
}

// clickUntil clicks sel until cond holds. A click lands where the element was when it was
// measured: while the page still moves (a modal dialog going, lines added to the console
// above) it can miss, and the test would wait for an effect that never comes (seen once in
// CI: the history tab's click lost right after the console's dialog closed).
func clickUntil(t *testing.T, ctx context.Context, sel, cond, what string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		click(t, ctx, sel)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(5*time.Second))); err == nil {
			return
		}
		if attempt == 5 {
			waitFor(t, ctx, cond, what) // fails, with the page's state
			return
		}
	}
}

// echoedInConsole is a condition: the console shows "$ cmd" followed by the line out, as etcdctl
// would print for cmd (out a regexp).
func echoedInConsole(cmd, out string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#output pre.in")].some((p) => p.textContent === %q && new RegExp(%q).test(p.nextElementSibling?.textContent ?? ""))`,
		"$ "+cmd, "^(?:"+out+")$")
}

// consoleTextJS is the console's text.
const consoleTextJS = `document.querySelector("[aria-label=output]").innerText`

// phoneWidth emulates a 390 px wide phone.
func phoneWidth(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
}

// fitsWidth fails the test if the element sel (what, in the message) is wider than the
// room it has: its content overflows sideways instead of wrapping or scrolling inside.
func fitsWidth(t *testing.T, ctx context.Context, sel, what string) {
	t.Helper()
	var overflow struct{ Scroll, Client int }
	eval(t, ctx, fmt.Sprintf(`const p = document.querySelector(%q); return {scroll: p.scrollWidth, client: p.clientWidth};`, sel), &overflow)
	if overflow.Scroll > overflow.Client+1 {
		t.Errorf("%s is %d px wide in %d px", what, overflow.Scroll, overflow.Client)
	}
}

// TestPlaygroundWatchFromRevision: a watch from a past revision says that revision (not the
// store's current one) and replays the events since; at phone width its events stay legible
// (a long value does not squeeze the type, key and revision to a letter a line), and axe finds
// nothing serious in them.
func TestPlaygroundWatchFromRevision(t *testing.T) {
	ctx, _ := playground(t)
	command(t, ctx, "put /w/a 1")                         // revision 2
	command(t, ctx, "put /other x")                       // 3
	command(t, ctx, "put /w/a 2")                         // 4
	command(t, ctx, "put /w/b "+strings.Repeat("v", 300)) // 5: one long word
	click(t, ctx, "#tab-watch")
	fill(t, ctx, `[aria-label="watch key"]`, "/w/")
	fill(t, ctx, `[aria-label="from revision"]`, "1")
	click(t, ctx, `#panel-watch button[type=submit]`)
	waitFor(t, ctx, `document.querySelector("#panel-watch .card header")?.innerText.includes("watching from revision 1")`,
		"the card does not say the revision the watch started from")
	if s := textOf(t, ctx, "#panel-watch .card header"); strings.Contains(s, "since revision 5") {
		t.Errorf("the card names the store's revision as the watch's start: %q", s)
	}
	revs := `[...document.querySelectorAll("#panel-watch tbody tr")].map((r) => r.cells[2].textContent).join(",")`
	waitFor(t, ctx, revs+` === "5,4,2"`, "the watch did not replay revisions 2, 4 and 5")

	phoneWidth(t, ctx)
	// Lines a cell's text takes: the distinct tops of its boxes.
	lines := `const lines = (td) => { const r = document.createRange(); r.selectNodeContents(td); return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; };`
	waitFor(t, ctx, `(() => { `+lines+` return [...document.querySelectorAll("#panel-watch tbody tr")].every((tr) => [0, 1, 2].every((i) => lines(tr.cells[i]) === 1)); })()`,
		"at 390 px an event's type, key or revision wraps")
	fitsWidth(t, ctx, "#panel-watch", "at 390 px the watch panel")
	loadAxe(t, ctx)
	accessible(t, ctx, "390px, watch events") // the events laid out as blocks are still a table
	screenshot(t, ctx, "watch-phone")
}

// TestPlaygroundTimeTravelCompacted: after a compaction the key history says what was
// compacted and no longer lists it, a diff from before it is dropped, and a new diff from a
// compacted revision fails in the diff's own section (in view), its old rows gone; a good one
// then clears the error.
func TestPlaygroundTimeTravelCompacted(t *testing.T) {
	ctx, _ := playground(t)
	for _, c := range []string{"put k v1", "put k v2", "put other o", "put k v3"} { // revisions 2 to 5
		command(t, ctx, c)
	}
	click(t, ctx, "#tab-history")
	waitFor(t, ctx, `document.querySelector("#panel-history").innerText.includes("revisions 1 to 5 are readable")`, "time travel does not span the revisions")
	history := `document.querySelector("[aria-label='key history'] tbody").innerText`
	fill(t, ctx, `[aria-label="history key"]`, "k")
	click(t, ctx, `[aria-label="key history"] button`)
	waitFor(t, ctx, history+`.includes("2\tPUT\t1\tv1") && `+history+`.includes("5\tPUT\t3\tv3")`, "the key history is incomplete")
	diff := `document.querySelector("[aria-label=diff] tbody").innerText`
	fill(t, ctx, `[aria-label="diff from revision"]`, "2")
	fill(t, ctx, `[aria-label="diff to revision"]`, "5")
	click(t, ctx, `[aria-label="diff"] button`)
	waitFor(t, ctx, diff+`.includes("k\tv1\tv3")`, "the diff is wrong")

	fill(t, ctx, `[aria-label="compact at revision"]`, "4")
	click(t, ctx, `[aria-label="compaction"] button`)
	waitFor(t, ctx, `document.querySelector("#panel-history").innerText.includes("revisions 4 to 5 are readable (compacted at 4)")`, "compaction did not move the start")
	waitFor(t, ctx, history+`.includes("revisions before 4 were compacted") && !`+history+`.includes("v1") && `+history+`.includes("v3")`,
		"the key history does not say what the compaction removed")
	waitFor(t, ctx, `!`+diff+`.includes("v1")`, "the diff from a compacted revision is still shown")

	click(t, ctx, `[aria-label="diff"] button`) // from 2 again: compacted
	diffErr := `document.querySelector("[aria-label=diff] .err")`
	waitFor(t, ctx, diffErr+`?.textContent.includes("compacted")`, "the diff's failure is not shown in its section")
	var inView bool
	eval(t, ctx, `const r = `+diffErr+`.getBoundingClientRect(), s = document.querySelector(".side").getBoundingClientRect();
		return r.height > 0 && r.top >= Math.max(s.top, 0) && r.bottom <= Math.min(s.bottom, innerHeight);`, &inView)
	if !inView {
		t.Error("the diff's error is out of view")
	}
	if n := textOf(t, ctx, "[aria-label=diff] tbody"); n != "" {
		t.Errorf("a failed diff left rows: %q", n)
	}
	fill(t, ctx, `[aria-label="diff from revision"]`, "4")
	click(t, ctx, `[aria-label="diff"] button`)
	waitFor(t, ctx, diff+`.includes("k\tv2\tv3") && `+diffErr+`.textContent === ""`, "a good diff after the error")
	screenshot(t, ctx, "time-travel-compacted")
}

// TestPlaygroundClockLabel: the clock's label says the jump applied and why the clock is
// where it is, keeps up while it is paused; "Back to real time" brings a clock that is ahead
// back (it stands still until real time reaches it: the clock never runs backwards); Reset
// brings a clock that is behind back at once.
func TestPlaygroundClockLabel(t *testing.T) {
	ctx, _ := playground(t)
	state := `document.querySelector("#clock-state").textContent`
	click(t, ctx, "#clock-pause")
	waitFor(t, ctx, state+`.startsWith("paused")`, "the clock did not pause")
	click(t, ctx, `[data-advance="10"]`)
	waitFor(t, ctx, state+`.includes("+10 s jumped")`, "the label does not show the jump")
	before := textOf(t, ctx, "#clock-state")
	waitFor(t, ctx, fmt.Sprintf(`%s !== %q`, state, before), "the label stands still while the paused clock falls behind real time")

	clickWhenShown(t, ctx, "#clock-real")
	waitFor(t, ctx, state+` === "real time" && document.querySelector("#clock-pause").textContent === "Pause" && document.querySelector("#clock-real").hidden`,
		"Back to real time did not bring the clock back")

	click(t, ctx, "#clock-pause")
	waitFor(t, ctx, state+`.includes("behind real time")`, "a paused clock does not fall behind")
	click(t, ctx, "#reset")
	clickWhenShown(t, ctx, `dialog.ask button[value=yes]`)
	waitFor(t, ctx, consoleTextJS+`.includes("Started over")`, "reset did not run")
	waitFor(t, ctx, state+` === "real time"`, "Reset left the clock behind real time")
}

// TestPlaygroundConnect: the address box takes etcdctl's host:port; a failure says why in
// words (nothing answers; a server that does not let the page in, with the --cors to start it
// with; not a gRPC-Web endpoint). Connected, the toolbar shows the server, the panels do not
// offer the tab's clock, the benchmark says up front that it is for the tab, and a reload
// connects again (the address is in the page's URL) until the page goes back to the tab.
func TestPlaygroundConnect(t *testing.T) {
	ctx, page := playground(t)
	connectTo := func(address string) {
		t.Helper()
		fill(t, ctx, `[aria-label="server address"]`, address)
		click(t, ctx, "#connect-button")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close()
	connectTo(nobody)
	waitFor(t, ctx, fmt.Sprintf(`%s.includes(%q)`, consoleTextJS, "cannot connect to http://"+nobody+": unreachable"), "an address where nothing answers")

	_, closed := testserver.Start(t, testserver.Options{}) // no --cors for the page
	connectTo(closed)
	waitFor(t, ctx, fmt.Sprintf(`%s.includes(%q) && %s.includes(%q)`, consoleTextJS, "cannot connect to http://"+closed+": it answers", consoleTextJS, "--cors=http://"+page),
		"a server that does not let the page in")

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Any web server, readable from any page.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "*")
		w.Header().Set("Access-Control-Allow-Methods", "*")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.NotFound(w, r)
	}))
	defer web.Close()
	connectTo(web.URL)
	waitFor(t, ctx, fmt.Sprintf(`%s.includes(%q)`, consoleTextJS, "cannot connect to "+web.URL+": not a MetaStore or etcd gRPC-Web endpoint"), "a web server that is no etcd")
	if s := textOf(t, ctx, "#status"); !strings.HasPrefix(s, "this tab") {
		t.Fatalf("after failures the page left the tab: %q", s)
	}

	_, addr := testserver.Start(t, testserver.Options{CORS: grpcweb.ParseOrigins("http://" + page)})
	connectTo(addr)
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector("#status").textContent.startsWith(%q)`, "http://"+addr), "host:port did not connect")
	serverMode := func() {
		t.Helper()
		if s := textOf(t, ctx, "#server"); !strings.Contains(s, "http://"+addr) {
			t.Errorf("the toolbar does not show the server: %q", s)
		}
		for _, tab := range []string{"leases", "examples"} {
			click(t, ctx, "#tab-"+tab)
			if s := textOf(t, ctx, "#panel-"+tab); strings.Contains(s, "clock") {
				t.Errorf("on a server the %s panel mentions the tab's clock: %q", tab, s)
			}
		}
		click(t, ctx, "#tab-bench")
		var disabled bool
		eval(t, ctx, `return document.querySelector("#panel-bench button[type=submit]").disabled;`, &disabled)
		if s := textOf(t, ctx, "#panel-bench"); !disabled || !strings.Contains(s, "not a server") {
			t.Errorf("on a server the benchmark's Run is offered (disabled %v): %q", disabled, s)
		}
	}
	serverMode()
	var href string
	eval(t, ctx, `return location.href;`, &href)
	if !strings.Contains(href, "server=") {
		t.Fatalf("the page's address does not keep the server: %s", href)
	}
	load(t, ctx, href)
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector("#status").textContent.startsWith(%q)`, "http://"+addr), "a reload did not connect again")
	serverMode()
	screenshot(t, ctx, "server-toolbar")

	click(t, ctx, "#use-tab")
	waitFor(t, ctx, `document.querySelector("#status").textContent.startsWith("this tab") && !location.search.includes("server=")`, "back in the tab, the address still names the server")
	// The note is hidden by the page's mode (read from its style: a panel not on screen
	// gives its hidden text to innerText too).
	waitFor(t, ctx, `getComputedStyle(document.querySelector("#panel-bench .server-only")).display === "none"`,
		"in the tab the benchmark still says it is not for a server")
	click(t, ctx, "#tab-leases")
	if s := textOf(t, ctx, "#panel-leases"); !strings.Contains(s, "clock") {
		t.Errorf("in the tab the lease panel does not explain the clock: %q", s)
	}
}

// TestPlaygroundBenchCancel: the benchmark says where the core runs (a Web Worker), shows
// its progress, and stops on Cancel, ready to run again.
func TestPlaygroundBenchCancel(t *testing.T) {
	ctx, _ := playground(t)
	click(t, ctx, "#tab-bench")
	if s := textOf(t, ctx, "#panel-bench"); !strings.Contains(s, "Web Worker") || strings.Contains(s, "on this page's thread") {
		t.Errorf("the benchmark misplaces the core: %q", s)
	}
	click(t, ctx, `#panel-bench button[type=submit]`)
	// Past the core's own loops (step 1), into the page's calls (step 2 of 4).
	waitFor(t, ctx, `(() => { const p = document.querySelector("#panel-bench progress"); return !!p && !p.hidden && p.value >= 1; })()`, "no progress shown")
	if s := textOf(t, ctx, "#panel-bench .bench-step"); !strings.Contains(s, "step ") {
		t.Errorf("the progress does not say the step: %q", s)
	}
	clickWhenShown(t, ctx, `#panel-bench button[type=button]`) // Cancel
	waitFor(t, ctx, `document.querySelector("#panel-bench [role=status]").textContent.startsWith("cancelled")`, "Cancel did not stop the benchmark")
	var after struct {
		Disabled, Hidden bool
		Rows             int
	}
	eval(t, ctx, `const p = document.querySelector("#panel-bench");
		return {disabled: p.querySelector("button[type=submit]").disabled, hidden: p.querySelector("progress").hidden, rows: p.querySelectorAll("tbody tr").length};`, &after)
	if after.Disabled || !after.Hidden || after.Rows != 0 {
		t.Errorf("after Cancel: Run disabled %v, progress hidden %v, %d result rows", after.Disabled, after.Hidden, after.Rows)
	}
	if got := command(t, ctx, "get /bench/ --prefix --keys-only"); got != "" {
		t.Errorf("the benchmark wrote to the page's store: %q", got)
	}
}

// TestPlaygroundImportAndResetAsk: Import and Reset ask before they replace the store, in the
// page's own dialog (not window.confirm, which stops the page: a console watch would stop
// printing); "no" leaves the store as it was (an import's file is not even read), "yes" goes on.
func TestPlaygroundImportAndResetAsk(t *testing.T) {
	ctx, _ := playground(t)
	command(t, ctx, "put x 1")
	eval(t, ctx, `window.confirm = () => { window.confirmed = true; return false; }; return true;`, nil)
	dialog := `document.querySelector("dialog.ask")?.open === true`
	question := func(what string) string {
		t.Helper()
		waitFor(t, ctx, dialog, what+" did not ask in the page's dialog")
		return textOf(t, ctx, "dialog.ask p")
	}
	no := func() {
		t.Helper()
		click(t, ctx, `dialog.ask button[value=no]`)
		waitFor(t, ctx, `!document.querySelector("dialog.ask")`, "No did not close the dialog")
		if got := command(t, ctx, "get x"); got != "x\n1" {
			t.Fatalf("after No: %q", got)
		}
	}

	click(t, ctx, "#reset")
	if q := question("Reset"); !strings.Contains(q, "empty store") {
		t.Errorf("Reset asks %q", q)
	}
	no()

	junk := filepath.Join(t.TempDir(), "junk.snap")
	if err := os.WriteFile(junk, []byte("not a snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles("#import", []string{junk}, chromedp.NodeReady)); err != nil {
		t.Fatal(err)
	}
	if q := question("Import"); !strings.Contains(q, "junk.snap") {
		t.Errorf("Import asks %q", q)
	}
	loadAxe(t, ctx)
	accessible(t, ctx, "the dialog asking before an import")
	no()
	if s := textOf(t, ctx, "[aria-label=output]"); strings.Contains(s, "snapshot") {
		t.Errorf("a declined import was read: %q", s)
	}

	click(t, ctx, "#reset")
	question("Reset, again,")
	click(t, ctx, `dialog.ask button[value=yes]`)
	waitFor(t, ctx, consoleTextJS+`.includes("Started over")`, "Yes did not reset")
	if got := command(t, ctx, "get x"); got != "" {
		t.Fatalf("after Yes: %q", got)
	}
	var confirmed bool
	eval(t, ctx, `return window.confirmed === true;`, &confirmed)
	if confirmed {
		t.Error("the page used window.confirm")
	}
}

// TestPlaygroundPanelsEcho: what the key tree and the lease panel do shows in the console as
// the etcdctl command it equals, with etcdctl's output; the commands, typed, do the same.
func TestPlaygroundPanelsEcho(t *testing.T) {
	ctx, _ := playground(t)
	echoed := func(cmd, out string) {
		t.Helper()
		waitFor(t, ctx, echoedInConsole(cmd, out), fmt.Sprintf("the console does not show %q and %q", cmd, out))
	}
	key := `/cfg/it's`
	quoted := `'/cfg/it'\''s'`
	fill(t, ctx, `[aria-label="new key"]`, key)
	fill(t, ctx, `[aria-label="new value"]`, `{"a": 1}`)
	click(t, ctx, `#panel-keys form button[type=submit]`)
	echoed(`put `+quoted+` '{"a": 1}'`, "OK")
	if got := command(t, ctx, "get "+quoted+" --print-value-only"); got != `{"a": 1}` {
		t.Fatalf("the echoed key, typed: %q", got)
	}
	click(t, ctx, fmt.Sprintf(`[aria-label=keys] .key[title=%q]`, key))
	area := `[aria-label="value of the selected key"]`
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector(%q) !== null`, area), "the value view did not open")
	fill(t, ctx, area, "plain")
	click(t, ctx, `#panel-keys .value-view button:not(.danger)`) // Save
	echoed("put "+quoted+" plain", "OK")
	waitFor(t, ctx, `document.querySelectorAll("#panel-keys .meta dd")[2]?.textContent === "2"`, "save did not write")
	click(t, ctx, `#panel-keys .value-view button.danger`) // Delete
	echoed("del "+quoted, "1")

	click(t, ctx, "#tab-leases")
	click(t, ctx, `#panel-leases form button[type=submit]`) // Grant lease, TTL 30
	echoed("lease grant 30", `lease [0-9a-f]{16} granted with TTL\(30s\)`)
	waitFor(t, ctx, `document.querySelector("[data-lease]") !== null`, "the lease has no card")
	var id string
	eval(t, ctx, `return document.querySelector("[data-lease]").dataset.lease;`, &id)
	card := fmt.Sprintf(`[data-lease=%q]`, id)
	fill(t, ctx, card+` [aria-label^="key for lease"]`, "/l/k")
	fill(t, ctx, card+` [aria-label^="value for lease"]`, "v")
	click(t, ctx, card+` form button[type=submit]`) // Attach key
	echoed("put /l/k v --lease="+id, "OK")
	click(t, ctx, card+` button:not(.danger):not([type=submit])`) // Keep alive
	echoed("lease keep-alive "+id+" --once", regexp.QuoteMeta("lease "+id+" keepalived with TTL(")+`\d+\)`)
	click(t, ctx, card+` button.danger`) // Revoke
	echoed("lease revoke "+id, regexp.QuoteMeta("lease "+id+" revoked"))
	if got := command(t, ctx, "lease timetolive "+id); got != "lease "+id+" already expired" {
		t.Errorf("after the panel's revoke: %q", got)
	}
}

// TestPlaygroundCompactionAsksOnAServer: on a server, a compaction typed in the console and the
// time-travel panel's Compact button ask first, in the page's dialog naming the server (its
// history is every client's); No leaves the history whole and prints nothing, Yes compacts.
// (In the tab neither asks: TestPlaygroundConsole and TestPlaygroundPanels compact without a
// dialog, which would fail them.)
func TestPlaygroundCompactionAsksOnAServer(t *testing.T) {
	ctx, addr := playground(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var old, last int64
	for i := range 3 {
		r, err := cli.Put(context.Background(), "/history", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			old = r.Header.Revision
		}
		last = r.Header.Revision
	}
	whole := func(when string) {
		t.Helper()
		if _, err := cli.Get(context.Background(), "/history", clientv3.WithRev(old)); err != nil {
			t.Fatalf("the server's history %s: %v", when, err)
		}
	}
	fill(t, ctx, `[aria-label="server address"]`, "http://"+addr)
	click(t, ctx, "#connect-button")
	waitFor(t, ctx, `document.querySelector("#status").textContent.startsWith("http://")`, "did not connect")

	out, q := answered(t, ctx, fmt.Sprintf("compaction %d", last), "no")
	if q == "" {
		t.Fatal("a compaction typed on a server did not ask")
	}
	if !strings.Contains(q, addr) || !strings.Contains(q, fmt.Sprint(last)) {
		t.Errorf("the question does not name the server and the revision: %q", q)
	}
	if out != "" {
		t.Errorf("a declined compaction printed %q", out)
	}
	whole("after No in the console")

	// The modal dialog makes the rest of the page inert until it is gone: a click on the tab
	// before then is lost, and the form stays hidden (CI once waited 10 minutes on it).
	waitFor(t, ctx, `!document.querySelector("dialog.ask")`, "No in the console did not close the dialog")
	clickUntil(t, ctx, "#tab-history", `document.querySelector('[aria-label="compact at revision"]')?.checkVisibility() === true`, "the history panel's compaction form is not shown")
	fill(t, ctx, `[aria-label="compact at revision"]`, fmt.Sprint(last))
	click(t, ctx, `[aria-label="compaction"] button`)
	waitFor(t, ctx, `document.querySelector("dialog.ask")?.open === true`, "the Compact button did not ask")
	if q := textOf(t, ctx, "dialog.ask p"); !strings.Contains(q, addr) {
		t.Errorf("the question does not name the server: %q", q)
	}
	click(t, ctx, `dialog.ask button[value=no]`)
	waitFor(t, ctx, `!document.querySelector("dialog.ask")`, "No did not close the dialog")
	whole("after No on the Compact button")
	if s := textOf(t, ctx, "[aria-label=output]"); strings.Contains(s, "compacted revision") {
		t.Fatalf("compacted after No:\n%s", s)
	}

	click(t, ctx, `[aria-label="compaction"] button`)
	clickWhenShown(t, ctx, `dialog.ask button[value=yes]`)
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector("#panel-history").innerText.includes("(compacted at %d)")`, last), "Yes did not compact")
	if _, err := cli.Get(context.Background(), "/history", clientv3.WithRev(old)); err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Errorf("the server's history after Yes: %v", err)
	}
}

// TestPlaygroundPanelsSetVariables: a panel's write or lease grant sets the console's $REV or
// $LEASE as the etcdctl command it echoes would, typed: the key panel's Put, Save and Delete,
// the lease panel's Grant and Attach key.
func TestPlaygroundPanelsSetVariables(t *testing.T) {
	ctx, _ := playground(t)
	atRev := func(key string) string {
		t.Helper()
		return command(t, ctx, "get "+key+" --rev=$REV --print-value-only")
	}
	fill(t, ctx, `[aria-label="new key"]`, "/v/a")
	fill(t, ctx, `[aria-label="new value"]`, "one")
	click(t, ctx, `#panel-keys form button[type=submit]`)
	waitFor(t, ctx, `document.querySelector('[aria-label=keys] .key[title="/v/a"]') !== null`, "the panel's put is not in the tree")
	if got := atRev("/v/a"); got != "one" {
		t.Errorf("after the panel's Put, /v/a at $REV: %q", got)
	}
	click(t, ctx, `[aria-label=keys] .key[title="/v/a"]`)
	area := `[aria-label="value of the selected key"]`
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector(%q) !== null`, area), "the value view did not open")
	fill(t, ctx, area, "two")
	click(t, ctx, `#panel-keys .value-view button:not(.danger)`) // Save
	waitFor(t, ctx, `document.querySelectorAll("#panel-keys .meta dd")[2]?.textContent === "2"`, "save did not write")
	if got := atRev("/v/a"); got != "two" {
		t.Errorf("after the panel's Save, /v/a at $REV: %q", got)
	}
	click(t, ctx, `#panel-keys .value-view button.danger`) // Delete
	waitFor(t, ctx, `document.querySelector("#panel-keys").innerText.includes("/v/a is gone.")`, "delete did not delete")
	if got := atRev("/v/a"); got != "" {
		t.Errorf("after the panel's Delete, /v/a at $REV: %q", got)
	}

	click(t, ctx, "#tab-leases")
	click(t, ctx, `#panel-leases form button[type=submit]`) // Grant lease, TTL 30
	waitFor(t, ctx, `document.querySelector("[data-lease]") !== null`, "the lease has no card")
	var id string
	eval(t, ctx, `return document.querySelector("[data-lease]").dataset.lease;`, &id)
	if got := command(t, ctx, "lease timetolive $LEASE"); !strings.HasPrefix(got, "lease "+id+" granted with TTL(30s)") {
		t.Errorf("after the panel's Grant, lease timetolive $LEASE: %q", got)
	}
	card := fmt.Sprintf(`[data-lease=%q]`, id)
	fill(t, ctx, card+` [aria-label^="key for lease"]`, "/v/l")
	fill(t, ctx, card+` [aria-label^="value for lease"]`, "v")
	click(t, ctx, card+` form button[type=submit]`) // Attach key
	waitFor(t, ctx, `document.querySelector(`+fmt.Sprintf("%q", card)+`).innerText.includes("keys: /v/l")`, "the key was not attached")
	if got := atRev("/v/l"); got != "v" {
		t.Errorf("after the panel's Attach key, /v/l at $REV: %q", got)
	}
}

// TestPlaygroundFooterNamesServer: the footer says where the store is: in this tab, or the
// server the page drives (not "in this tab" then).
func TestPlaygroundFooterNamesServer(t *testing.T) {
	ctx, page := playground(t)
	_, addr := testserver.Start(t, testserver.Options{CORS: grpcweb.ParseOrigins("http://" + page)})
	if s := textOf(t, ctx, "footer"); !strings.Contains(s, "in this tab") {
		t.Errorf("in the tab the footer says %q", s)
	}
	fill(t, ctx, `[aria-label="server address"]`, "http://"+addr)
	click(t, ctx, "#connect-button")
	waitFor(t, ctx, `document.querySelector("#status").textContent.startsWith("http://")`, "did not connect")
	if s := textOf(t, ctx, "footer"); strings.Contains(s, "in this tab") || !strings.Contains(s, "http://"+addr) {
		t.Errorf("on a server the footer says %q", s)
	}
	click(t, ctx, "#use-tab")
	waitFor(t, ctx, `document.querySelector("footer").innerText.includes("in this tab")`, "back in the tab, the footer does not say so")
}

// TestPlaygroundKeyFilter: a box above the key tree keeps the keys that contain its text (in
// any case) and says how many match; Escape empties it; it fits a phone's width and axe finds
// nothing serious.
func TestPlaygroundKeyFilter(t *testing.T) {
	ctx, _ := playground(t)
	for _, k := range []string{"/svc/web/1", "/svc/db/1", "/cfg/Web"} {
		command(t, ctx, "put "+k+" v")
	}
	keys := `[...document.querySelectorAll("[aria-label=keys] .key")].map((b) => b.title).join(",")`
	waitFor(t, ctx, keys+` === "/cfg/Web,/svc/db/1,/svc/web/1"`, "the tree does not show the keys")
	filter := `[aria-label="filter keys"]`
	fill(t, ctx, filter, "web")
	waitFor(t, ctx, keys+` === "/cfg/Web,/svc/web/1"`, "the filter did not keep the keys containing web")
	waitFor(t, ctx, `document.querySelector("#panel-keys").innerText.includes("2 of 3 keys match")`, "the panel does not say how many keys match")
	fill(t, ctx, filter, "nope")
	waitFor(t, ctx, keys+` === "" && document.querySelector("#panel-keys").innerText.includes("No key matches")`, "a filter matching nothing")
	if err := chromedp.Do(ctx, chromedp.SendKeys(filter, kb.Escape)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, keys+` === "/cfg/Web,/svc/db/1,/svc/web/1"`, "Escape did not empty the filter")

	fill(t, ctx, filter, "svc")
	phoneWidth(t, ctx)
	fitsWidth(t, ctx, "#panel-keys", "at 390 px the key panel")
	loadAxe(t, ctx)
	accessible(t, ctx, "390px, the key tree filtered")
	screenshot(t, ctx, "keys-filter-phone")
}

// TestPlaygroundKeyLease: the key view shows the key's lease and the time it has left on the
// store's clock (the tab's, paused, then moved 10 s on); a key without one says none.
func TestPlaygroundKeyLease(t *testing.T) {
	ctx, _ := playground(t)
	click(t, ctx, "#clock-pause")
	waitFor(t, ctx, `document.querySelector("#clock-state").textContent.startsWith("paused")`, "the clock did not pause")
	m := leaseID.FindStringSubmatch(command(t, ctx, "lease grant 60"))
	if m == nil {
		t.Fatal("lease grant printed no lease ID")
	}
	command(t, ctx, "put /l/k v --lease=$LEASE")
	command(t, ctx, "put /l/plain v")
	lease := `([...document.querySelectorAll("#panel-keys .meta dt")].find((d) => d.textContent === "lease")?.nextElementSibling.textContent ?? "")`
	pick := func(key string) {
		t.Helper()
		sel := fmt.Sprintf(`[aria-label=keys] .key[title=%q]`, key)
		waitFor(t, ctx, fmt.Sprintf(`document.querySelector(%q) !== null`, sel), key+" is not in the tree")
		click(t, ctx, sel)
	}
	pick("/l/k")
	left := regexp.MustCompile(`^` + m[1] + ` · (\d+) s left of 60 s$`)
	waitFor(t, ctx, fmt.Sprintf(`new RegExp(%q).test(%s)`, left.String(), lease), "the key view does not show the lease and its time left")
	var shown string
	eval(t, ctx, "return "+lease+";", &shown)
	var before int
	fmt.Sscan(left.FindStringSubmatch(shown)[1], &before)
	click(t, ctx, `[data-advance="10"]`)
	waitFor(t, ctx, fmt.Sprintf(`(() => { const m = new RegExp(%q).exec(%s); return !!m && Number(m[1]) <= %d; })()`, left.String(), lease, before-10),
		"the time left did not follow the clock's jump")
	screenshot(t, ctx, "key-lease")
	pick("/l/plain")
	waitFor(t, ctx, lease+` === "none"`, "a key without a lease")
	click(t, ctx, "#clock-pause") // resume
}

// TestPlaygroundTabCompletion: Tab in the console completes a command's name and its flags;
// where several fit, it completes what they share and lists them; on an empty line Tab leaves
// the input, as anywhere on the page.
func TestPlaygroundTabCompletion(t *testing.T) {
	ctx, _ := playground(t)
	input := `[aria-label="command"]`
	typed := func(keys, want string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SendKeys(input, keys)); err != nil {
			t.Fatal(err)
		}
		if v, _ := chromedp.Run(ctx, chromedp.Value(input)); v != want {
			t.Fatalf("after %q the input holds %q, want %q", keys, v, want)
		}
	}
	typed("lea"+kb.Tab, "lease ")
	typed("g"+kb.Tab, "lease grant ")
	fill(t, ctx, input, "")
	typed("get --p"+kb.Tab, "get --p")
	if s := textOf(t, ctx, "[aria-label=output] pre:last-child"); s != "--password  --prefix  --print-value-only" {
		t.Errorf("the flags that fit are listed as %q", s)
	}
	typed("re"+kb.Tab, "get --prefix ")
	typed("--re"+kb.Tab, "get --prefix --rev=")
	fill(t, ctx, input, "")
	if err := chromedp.Do(ctx, chromedp.SendKeys(input, kb.Tab)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, `document.activeElement !== document.querySelector("[aria-label=command]")`, "Tab on an empty line kept the focus")
}

// TestPlaygroundScriptLink: the Script view holds the console's commands typed so far (a txn's
// lines too; a line with a password left out, and said so); Link makes an address of them.
// Opened (here on another origin: a store of its own), it shows them in the Script view,
// ready to run and not run; Run runs them in the console.
func TestPlaygroundScriptLink(t *testing.T) {
	ctx, _ := playground(t)
	for _, l := range []string{"put /s/a 1", "txn -i", `value("/s/a") = "1"`, "", "put /s/b 2", "", "", "user add bob:secret", "get /s/ --prefix --keys-only"} {
		printed(t, ctx, l)
	}
	script := "put /s/a 1\ntxn -i\nvalue(\"/s/a\") = \"1\"\n\nput /s/b 2\n\n\nget /s/ --prefix --keys-only\n"
	area := `[aria-label="script"]`
	clickWhenShown(t, ctx, "#tab-script")
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector(%q)?.value === %q`, area, script), "the Script view does not hold the commands typed")
	if s := textOf(t, ctx, "#panel-script"); !strings.Contains(s, "1 line with a password left out") {
		t.Errorf("the Script view does not say a line was left out: %q", s)
	}
	clickWhenShown(t, ctx, `#panel-script button[data-action=link]`)
	waitFor(t, ctx, `document.querySelector("#panel-script a")?.href.includes("#script=")`, "Link made no address")
	var hash string
	eval(t, ctx, `return new URL(document.querySelector("#panel-script a").href).hash;`, &hash)

	_, other := testserver.Start(t, testserver.Options{UI: web.Handler(os.DirFS(filepath.Join("..", "..", "web", "dist")))})
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	load(t, tab, "http://"+other+"/"+hash)
	waitFor(t, tab, fmt.Sprintf(`document.querySelector("#tab-script").getAttribute("aria-selected") === "true" && document.querySelector(%q).value === %q`, area, script),
		"the link does not open the Script view with its script")
	if s := textOf(t, tab, "#panel-script"); !strings.Contains(s, "not run") {
		t.Errorf("the Script view does not say the linked script has not run: %q", s)
	}
	if s := textOf(t, tab, "[aria-label=output]"); strings.Contains(s, "/s/a") {
		t.Fatalf("the link ran its script:\n%s", s)
	}
	screenshot(t, tab, "script-linked")
	run := `#panel-script button[data-action=run]`
	clickWhenShown(t, tab, run) // disabled while the script runs
	waitFor(t, tab, fmt.Sprintf(`!document.querySelector(%q).disabled && %s.includes("SUCCESS")`, run, consoleTextJS), "Run did not run the script")
	if got := command(t, tab, "get /s/b --print-value-only"); got != "2" {
		t.Errorf("after Run: %q", got)
	}
}
