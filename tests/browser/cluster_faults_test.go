//go:build !js

package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/web"
)

// The Cluster tab's faults, membership buttons, guided examples, linearizability check and
// shared runs (issue #14), each checked by what the page shows: a member's row, the drawing's
// description of the links, the result line, the timeline. Each test starts a cluster of its
// own (seeded, so that a failure can be looked at again) and waits, never sleeps.

// clusterView is the Cluster tab of a playground page with a cluster started in it.
type clusterView struct {
	t   *testing.T
	ctx context.Context
}

// startCluster opens the Cluster tab of the page in ctx, starts members (3 or 5) with seed,
// and waits for a leader.
func startCluster(t *testing.T, ctx context.Context, members int, seed string) clusterView {
	t.Helper()
	if _, err := os.Stat(filepath.Join("..", "..", "web", "dist", "metastore-cluster.wasm")); err != nil {
		t.Fatalf("the in-tab cluster's module is not built (run make web): %v", err)
	}
	c := clusterView{t, ctx}
	clickWhenShown(t, ctx, "#tab-cluster")
	c.set("seed", seed)
	clickWhenShown(t, ctx, fmt.Sprintf(`#panel-cluster button[data-start="%d"]`, members))
	c.wait(fmt.Sprintf(`document.querySelectorAll("#panel-cluster tr[data-member]").length === %d`, members), "the cluster panel does not list the members started")
	c.waitLeader()
	return c
}

// set sets the cluster panel's field (an input or a select, by its label) to v, once it is
// shown and (a select) offers v. Fields are set by script, within patience: chromedp's
// SendKeys and SetValue wait for a field without a limit of their own.
func (c clusterView) set(label, v string) {
	c.t.Helper()
	sel := fmt.Sprintf(`#panel-cluster [aria-label=%q]`, label)
	c.wait(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || e.offsetParent === null) return false; e.value = %q; return e.value === %q; })()`, sel, v, v),
		"the cluster panel has no field "+label+" to set to "+v)
}

// clusterButtonJS is the cluster panel's button labelled label.
func clusterButtonJS(label string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#panel-cluster button")].find((b) => b.textContent === %q)`, label)
}

// press clicks the button labelled label once it is shown and enabled.
func (c clusterView) press(label string) {
	c.t.Helper()
	c.wait(fmt.Sprintf(`(() => { const b = %s; if (!b || b.disabled || b.offsetParent === null) return false; b.click(); return true; })()`, clusterButtonJS(label)),
		"no button "+label)
}

// clusterFieldJS is member m's cell of the members' table (role, term, leader, commit, applied).
func clusterFieldJS(m, field string) string {
	return fmt.Sprintf(`(document.querySelector("#panel-cluster tr[data-member=%s] [data-field=%s]")?.textContent ?? "")`, m, field)
}

// clusterLeadJS is the member whose row says it leads ("" for none); its role may carry notes
// ("leader (cut from m3)").
const clusterLeadJS = `([...document.querySelectorAll("#panel-cluster tr[data-member]")].find((r) => r.querySelector("[data-field=role]").textContent.split(" ")[0] === "leader")?.dataset.member ?? "")`

// clusterNetJS is the drawing of the links as a screen reader has it: its label.
const clusterNetJS = `(document.querySelector("#panel-cluster .net")?.getAttribute("aria-label") ?? "")`

// wait waits (up to patience) until cond holds; if it does not, the test fails with what the
// panel shows: the status, the result line, the clock, the members and the links.
func (c clusterView) wait(cond, what string) {
	c.t.Helper()
	if _, err := chromedp.Run(c.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(patience))); err != nil {
		shown, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`[document.querySelector("#panel-cluster p[role=status]")?.textContent,
			"result: " + `+clusterResultJS+`, document.querySelector("#panel-cluster .now")?.textContent, ...`+membersJS+`, `+clusterNetJS+`].join("\n")`))
		c.t.Fatalf("%s (%s): %v\nthe cluster panel shows:\n%s", what, cond, err, shown)
	}
}

func (c clusterView) eval(js string, out any) {
	c.t.Helper()
	eval(c.t, c.ctx, "return "+js, out)
}

func (c clusterView) text(js string) string {
	c.t.Helper()
	var s string
	c.eval(js, &s)
	return s
}

func (c clusterView) waitLeader() string {
	c.t.Helper()
	c.wait(clusterLeadJS+` !== ""`, "no member leads")
	return c.text(clusterLeadJS)
}

// members is the names in the table, in order.
func (c clusterView) members() []string {
	c.t.Helper()
	var names []string
	c.eval(`[...document.querySelectorAll("#panel-cluster tr[data-member]")].map((r) => r.dataset.member)`, &names)
	return names
}

// others is the members but the ones given.
func (c clusterView) others(not ...string) []string {
	var out []string
	for _, m := range c.members() {
		if !strings.Contains(" "+strings.Join(not, " ")+" ", " "+m+" ") {
			out = append(out, m)
		}
	}
	return out
}

// result waits until the result line satisfies cond (a JS condition on r, the line's text)
// and returns it.
func (c clusterView) result(cond, what string) string {
	c.t.Helper()
	c.wait(fmt.Sprintf(`((r) => %s)(%s)`, cond, clusterResultJS), what)
	return c.text(clusterResultJS)
}

// put writes key=value through member and waits for the page to say it is done.
func (c clusterView) put(member, key, value string) {
	c.t.Helper()
	c.set("through member", member)
	c.set("key", key)
	c.set("value", value)
	c.press("Put")
	c.result(fmt.Sprintf(`r.startsWith(%q)`, "OK: "+key+" = "+value+" at revision "), fmt.Sprintf("a put of %s=%s through %s did not commit", key, value, member))
}

// getUntil reads key through member (linearizably) until the page shows want: a member just
// healed or restarted catches up when it does.
func (c clusterView) getUntil(member, key, want string) {
	c.t.Helper()
	c.set("through member", member)
	c.set("key", key)
	line := key + " = " + want + " "
	c.wait(fmt.Sprintf(`(() => { const r = %s; if (r.startsWith(%q) && r.includes("linearizable")) return true; if (r !== "…") %s.click(); return false; })()`,
		clusterResultJS, line, clusterButtonJS("Get")), fmt.Sprintf("a linearizable get of %s through %s does not show %s", key, member, want))
}

// pair is how the drawing names the link between two members: in the table's order.
func (c clusterView) pair(a, b string) string {
	for _, m := range c.members() {
		if m == a {
			return a + "–" + b
		}
		if m == b {
			return b + "–" + a
		}
	}
	return a + "–" + b
}

// TestPlaygroundClusterSplit: "Split 2 | 1" leaves the leader and one follower on one side and
// the third member alone: its row says it is cut off and, once its election timeout passes,
// that it knows no leader; a linearizable get through it fails (as etcdctl's does) while the
// majority keeps a leader and takes a put. The drawing says which links are cut. Healed, the
// lone member follows the leader again and reads the put. The split view is screenshotted at
// laptop and phone widths, axe finds nothing serious, and at 390 px the panel fits.
func TestPlaygroundClusterSplit(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "31")
	lead := c.waitLeader()
	c.put(lead, "side", "before")

	c.press("Split 2 | 1")
	got := c.result(`r.startsWith("Split: ")`, "Split says nothing")
	m := regexp.MustCompile(`^Split: (m\d), (m\d) \| (m\d)$`).FindStringSubmatch(got)
	if m == nil || m[1] != lead {
		t.Fatalf("the split, with %s leading: %q (want the leader and one follower against the third)", lead, got)
	}
	pal, lone := m[2], m[3]
	c.wait(fmt.Sprintf(`%s === "" && %s.split(" ")[0] !== "leader" && %s.includes("(cut off)")`, clusterFieldJS(lone, "leader"), clusterFieldJS(lone, "role"), clusterFieldJS(lone, "role")),
		"the member alone does not show cut off, with no leader")
	c.wait(fmt.Sprintf(`%s.includes(%q) && %s.includes(%q) && !%s.includes(%q)`,
		clusterNetJS, c.pair(lead, lone)+": cut", clusterNetJS, c.pair(pal, lone)+": cut", clusterNetJS, c.pair(lead, pal)+": cut"),
		"the drawing does not say which links the split cut")
	if role := c.text(clusterFieldJS(lead, "role")); role != "leader (cut from "+lone+")" {
		t.Errorf("the leader's row during the split: %q", role)
	}

	c.set("through member", lone)
	c.set("key", "side")
	c.press("5×") // a read that cannot be confirmed fails when etcdctl's 5 s timeout passes
	c.press("Get")
	c.result(`r.startsWith("Error: ")`, "the member alone answered a linearizable read")
	c.press("Get (serializable)")
	c.result(`r.startsWith("side = before") && r.includes("serializable")`, "the member alone does not answer from its own copy")

	c.put(pal, "side", "majority")
	if now := c.waitLeader(); now != lead && now != pal {
		t.Errorf("%s leads, alone on its side", now)
	}

	clusterViewChecks(t, ctx, "cluster-split", "cluster panel (split)")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatal(err)
	}

	c.press("Heal the network")
	c.wait(fmt.Sprintf(`!%s.includes("cut") && %s !== "" && %s === %s`, clusterNetJS, clusterFieldJS(lone, "leader"), clusterFieldJS(lone, "leader"), clusterLeadJS),
		"healed, the member alone does not follow the leader again")
	c.getUntil(lone, "side", "majority")
}

// TestPlaygroundClusterLink: a link set to lose 20% of its messages and delay them 150 ms
// shows so in the drawing (dashed, and its description names the delay and the loss), holds
// messages in flight and loses some, as the drawing counts; puts still commit, and the
// follower behind the link catches up. Set back to 0 and 0, the link is an ordinary one again.
func TestPlaygroundClusterLink(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "32")
	lead := c.waitLeader()
	f := c.others(lead)[0]
	c.set("link from", lead)
	c.set("link to", f)
	c.set("loss percent", "20")
	c.set("delay ms", "150")
	c.press("Set link")
	c.result(fmt.Sprintf(`r === %q`, fmt.Sprintf("Link %s – %s: 20%% lost, 150 ms each way", lead, f)), "Set link does not say what it set")

	// The drawing's description of the link: messages in flight each way, then its faults.
	link := regexp.QuoteMeta(c.pair(lead, f)) + `: (\d+) and (\d+) in flight, 150 ms, 20% loss \((\d+) lost so far\)`
	c.wait(fmt.Sprintf(`(() => { const m = new RegExp(%q).exec(%s); return !!m && Number(m[1]) + Number(m[2]) > 0 && Number(m[3]) > 0; })()`, link, clusterNetJS),
		"the drawing does not show the slowed link holding messages and losing some")
	var slow int
	c.eval(`document.querySelectorAll("#panel-cluster .net line.slow").length`, &slow)
	if slow != 1 {
		t.Errorf("%d links drawn slow, want 1", slow)
	}
	// A put through the leader, or the other follower, commits with the other follower's
	// vote; the slowed follower catches up when the leader's resent appends get through. (A
	// put through the slowed follower may not commit: a proposal it forwards and the link
	// loses is not resent, and the request times out, as on a server.)
	c.put(lead, "through", "the leader")
	c.put(c.others(lead, f)[0], "through", "the other follower")
	c.wait(fmt.Sprintf(`Number(%s) > 0 && %s === %s`, clusterFieldJS(f, "applied"), clusterFieldJS(f, "applied"), clusterFieldJS(lead, "applied")),
		"the follower behind the slow link does not catch up")

	c.set("loss percent", "0")
	c.set("delay ms", "0")
	c.press("Set link")
	c.wait(fmt.Sprintf(`!%s.includes(" ms,") && document.querySelectorAll("#panel-cluster .net line.slow").length === 0`, clusterNetJS),
		"a link set back to no loss and no delay is still shown slow")
}

// TestPlaygroundClusterSlowDisk: "Slow m's disk" on the leader: its row says "(slow disk)"
// and the button is pressed; a put still commits. Pressed again, the disk is fast again. The
// row's buttons are kept as the state changes: one focused stays focused (a keyboard user
// does not lose their place ten times a second).
func TestPlaygroundClusterSlowDisk(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "33")
	lead := c.waitLeader()
	label := "Slow " + lead + "'s disk"
	button := clusterButtonJS(label)

	// Focused, the button is still the focused element after the state has changed (the
	// clock moved on twice).
	var at string
	c.eval(fmt.Sprintf(`(() => { %s.focus(); return document.querySelector("#panel-cluster .now").textContent; })()`, button), &at)
	c.wait(fmt.Sprintf(`(() => { const n = document.querySelector("#panel-cluster .now").textContent; if (n === %q) return false; if (window.seenNow === undefined) window.seenNow = n; return n !== window.seenNow; })()`, at),
		"the cluster's clock does not move")
	if got := c.text(`document.activeElement?.textContent ?? ""`); got != label {
		t.Errorf("the focus moved from %q to %q as the panel updated", label, got)
	}

	c.press(label)
	c.wait(fmt.Sprintf(`%s.endsWith("(slow disk)") && %s.getAttribute("aria-pressed") === "true"`, clusterFieldJS(lead, "role"), button),
		"the slowed member's row does not say so")
	c.put(c.others(lead)[0], "disk", "slow")
	c.put(lead, "disk", "slower")
	c.press(label)
	c.wait(fmt.Sprintf(`!%s.includes("slow disk") && %s.getAttribute("aria-pressed") === "false"`, clusterFieldJS(lead, "role"), button),
		"pressed again, the disk is still shown slow")
}

// TestPlaygroundClusterLearner: "Add a learner" adds m4 as a learner, which catches up with
// the leader; Promote makes it a voter (a follower), and Remove takes it out of the cluster:
// its row says removed, and it can no longer be asked.
func TestPlaygroundClusterLearner(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "34")
	lead := c.waitLeader()
	c.put(lead, "before", "the learner")
	c.press("Add a learner")
	c.result(`/^Member [0-9a-f]+ added as a learner, and started: m4 /.test(r)`, "Add a learner did not add m4")
	c.wait(fmt.Sprintf(`%s === "learner" && Number(%s) > 0 && %s === %s`, clusterFieldJS("m4", "role"), clusterFieldJS("m4", "applied"), clusterFieldJS("m4", "applied"), clusterFieldJS(lead, "applied")),
		"the learner does not catch up with the leader")

	c.press("Promote m4")
	c.result(`r === "m4 promoted"`, "Promote did not promote m4")
	c.wait(clusterFieldJS("m4", "role")+` === "follower"`, "the promoted learner is not shown a follower")
	if c.text(`String(!!`+clusterButtonJS("Promote m4")+`?.offsetParent)`) == "true" {
		t.Error("a voter is still offered Promote")
	}
	c.put("m4", "through", "m4")

	c.press("Remove m4")
	c.result(`r === "m4 removed"`, "Remove did not remove m4")
	c.wait(clusterFieldJS("m4", "role")+` === "removed"`, "the removed member is not shown removed")
	c.wait(`![...document.querySelector('#panel-cluster [aria-label="through member"]').options].some((o) => o.value === "m4")`,
		"a removed member can still be asked")
	c.put(c.waitLeader(), "after", "removal")
	// The timeline lists the membership changes with the leader changes, in order.
	c.wait(`(() => { const t = [...document.querySelectorAll("#panel-cluster .timeline li")].map((l) => l.textContent.replace(/^[0-9.]+ s: /, "")).reverse();
		const a = t.indexOf("m4 added"), p = t.indexOf("m4 promoted"), r = t.indexOf("m4 removed"); return a >= 0 && a < p && p < r; })()`,
		"the timeline does not list m4 added, promoted and removed in that order")
}

// TestPlaygroundClusterLeaderDies: the guided example stops the leader in the tick a write
// goes in through a follower; the page narrates the write's outcome, the new leader, a
// linearizable get (which shows the write if it was acknowledged), the restart, and the
// check's verdict: linearizable.
func TestPlaygroundClusterLeaderDies(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "35")
	lead := c.waitLeader()
	c.press("5×") // a write lost with its leader is known to have failed only when it times out (5 s)
	c.press("A leader dies mid-write")
	got := c.result(`r.includes("restarted.") || r.startsWith("Error")`, "the example did not finish")
	t.Log(got)
	m := regexp.MustCompile(`^put x=1 through (m\d) → stop (m\d) at the same tick → the write (acknowledged|failed \(.+\): its outcome is unknown) → (m\d) leads → ` +
		`a linearizable get of x through (m\d): (1|not set) → (m\d) restarted\. Linearizable: \d+ (?:reads and writes|read or write) on 1 key\(s\) \(\d of them writes of unknown outcome\) admit one order that agrees with real time\.$`).FindStringSubmatch(got)
	switch {
	case m == nil:
		t.Fatalf("the example's narration: %q", got)
	case m[2] != lead || m[7] != lead || m[1] == lead || m[5] != m[1]:
		t.Errorf("with %s leading, the narration stops, or restarts, another: %q", lead, got)
	case m[4] == lead:
		t.Errorf("the stopped leader is said to lead again: %q", got)
	case m[3] == "acknowledged" && m[6] != "1":
		t.Errorf("an acknowledged write is not read back: %q", got)
	}
	c.wait(fmt.Sprintf(`%s !== "stopped" && document.querySelectorAll("#panel-cluster .timeline li").length >= 2`, clusterFieldJS(lead, "role")),
		"the page does not show the leader restarted and the leader change")
}

// TestPlaygroundClusterMinority: the guided example cuts a follower off; a put through it is
// refused, a serializable get through it answers from its stale copy (the majority's write
// is not there), a linearizable get is refused; then the network heals.
func TestPlaygroundClusterMinority(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "36")
	lead := c.waitLeader()
	c.press("5×")
	c.press("A cut-off minority")
	got := c.result(`r.endsWith("→ healed") || r.startsWith("Error")`, "the example did not finish")
	t.Log(got)
	m := regexp.MustCompile(`^cut (m\d) off → put y=new through (m\d) → a put through (m\d): refused \((?:etcdserver: .+|context deadline exceeded)\) → ` +
		`a serializable get through (m\d): not set \(stale: the majority has new\) → a linearizable get through (m\d): refused \((?:etcdserver: .+|context deadline exceeded)\) → healed$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("the example's narration: %q", got)
	}
	if cut := m[1]; cut == lead || m[2] != lead || m[3] != cut || m[4] != cut || m[5] != cut {
		t.Errorf("with %s leading: %q", lead, got)
	}
	c.wait(`!`+clusterNetJS+`.includes("cut")`, "after the example the network is not healed")
	c.getUntil(m[1], "y", "new")
}

// TestPlaygroundClusterLearnerSnapshot: the guided example writes 150 times (the members
// snapshot every 100 entries and drop the log behind), adds a learner, which catches up (from
// a snapshot), and promotes it: the page narrates each step and lists it as a follower.
func TestPlaygroundClusterLearnerSnapshot(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "37")
	lead := c.waitLeader()
	c.press("A learner catches up by snapshot")
	got := c.result(`r.endsWith("it votes now") || r.startsWith("Error")`, "the example did not finish")
	t.Log(got)
	m := regexp.MustCompile(`^150 puts through (m\d) \(members snapshot every 100 entries, and drop the log behind\) → m4 added as a learner → ` +
		`m4 caught up from a snapshot \(applied (\d+)\) → m4 promoted: it votes now$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("the example's narration: %q", got)
	}
	if applied, _ := strconv.Atoi(m[2]); m[1] != lead || applied < 150 {
		t.Errorf("with %s leading: %q", lead, got)
	}
	c.wait(clusterFieldJS("m4", "role")+` === "follower"`, "the promoted learner is not shown a follower")
}

// TestPlaygroundClusterCheck: with nothing read or written, the check says so; after puts and
// linearizable gets through different members, it finds the history linearizable and counts
// what it checked.
func TestPlaygroundClusterCheck(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "38")
	lead := c.waitLeader()
	fs := c.others(lead)
	c.press("Check linearizability")
	c.result(`r.startsWith("Nothing to check yet")`, "the check of an empty history does not say there is nothing to check")
	c.put(fs[0], "k", "1")
	c.getUntil(fs[1], "k", "1")
	c.put(lead, "k", "2")
	c.getUntil(fs[0], "k", "2")
	c.put(fs[1], "other", "3")
	c.press("Check linearizability")
	got := c.result(`r.startsWith("Linearizable") || r.startsWith("NOT")`, "the check gave no verdict")
	m := regexp.MustCompile(`^Linearizable: (\d+) reads and writes on 2 key\(s\) \(0 of them writes of unknown outcome\) admit one order that agrees with real time\.$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("the check after 3 puts and 2 gets on 2 keys: %q", got)
	}
	if n, _ := strconv.Atoi(m[1]); n < 5 {
		t.Errorf("the check counts %d reads and writes after 3 puts and at least 2 gets: %q", n, got)
	}
}

// timelineJS is the timeline's lines (virtual time: leader and term), oldest first.
const timelineJS = `[...document.querySelectorAll("#panel-cluster .timeline li")].map((l) => l.textContent).reverse()`

// membersJS is the members' table as text: each row's member, role, term, leader, commit, applied.
const membersJS = `[...document.querySelectorAll("#panel-cluster tr[data-member]")].map((r) => [r.dataset.member, ...["role", "term", "leader", "commit", "applied"].map((f) => r.querySelector("[data-field=" + f + "]").textContent)].join(" "))`

// TestPlaygroundClusterShareReplays: a run with a fixed seed (a put, the leader stopped, a new
// leader, the old one restarted, a learner added), paused and shared, is in the address.
// Opened in two fresh tabs (each on an origin of its own), the link replays the run up to the
// tick it was shared at and pauses: both show the same clock, timeline (when, who, which
// term) and members' table as each other and as the original run.
func TestPlaygroundClusterShareReplays(t *testing.T) {
	ctx, _ := playground(t)
	c := startCluster(t, ctx, 3, "4242")
	lead := c.waitLeader()
	f := c.others(lead)[0]
	c.put(f, "shared", "1")
	c.press("Stop " + lead)
	c.wait(fmt.Sprintf(`%s !== "" && %s !== %q`, clusterLeadJS, clusterLeadJS, lead), "no other member took over from the stopped leader")
	next := c.waitLeader()
	c.put(next, "shared", "2")
	c.press("Restart " + lead)
	c.wait(fmt.Sprintf(`Number(%s) > 0 && %s === %s`, clusterFieldJS(lead, "applied"), clusterFieldJS(lead, "applied"), clusterFieldJS(next, "applied")),
		"the restarted member did not catch up")
	c.press("Add a learner")
	c.wait(clusterFieldJS("m4", "role")+` === "learner"`, "no learner")
	c.press("Pause")
	c.wait(`document.querySelector("#panel-cluster .now").textContent.endsWith("(paused)")`, "the clock does not say it is paused")
	c.press("Share this run")
	c.result(`r.startsWith("This run's link (seed 4242, ")`, "Share does not say where the link is")

	type view struct {
		Href, Now, Status string
		Timeline, Members []string
	}
	snap := func(ctx context.Context) view {
		var v view
		eval(t, ctx, `return {href: location.href, now: document.querySelector("#panel-cluster .now").textContent,
			status: document.querySelector("#panel-cluster p[role=status]").textContent, timeline: `+timelineJS+`, members: `+membersJS+`};`, &v)
		return v
	}
	orig := snap(ctx)
	if !strings.Contains(orig.Href, "#cluster=") {
		t.Fatalf("the address holds no run: %s", orig.Href)
	}
	if len(orig.Timeline) < 2 {
		t.Fatalf("the original run's timeline has no leader change: %q", orig.Timeline)
	}
	hash := orig.Href[strings.Index(orig.Href, "#"):]
	t.Logf("shared at %s:\n%s\n%s", orig.Now, strings.Join(orig.Timeline, "\n"), strings.Join(orig.Members, "\n"))

	replay := func(n int) view {
		_, other := testserver.Start(t, testserver.Options{UI: web.Handler(os.DirFS(filepath.Join("..", "..", "web", "dist")))})
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 860)); err != nil {
			t.Fatal(err)
		}
		load(t, tab, "http://"+other+"/"+hash)
		clusterView{t, tab}.wait(`document.querySelector("#tab-cluster").getAttribute("aria-selected") === "true" && !document.querySelector("#panel-cluster").hidden`,
			fmt.Sprintf("replay %d: the link does not open the Cluster tab", n))
		clusterView{t, tab}.wait(fmt.Sprintf(`document.querySelector("#panel-cluster .now")?.textContent === %q && !document.querySelector("#panel-cluster p[role=status]").textContent.includes("Replaying")`, orig.Now),
			fmt.Sprintf("replay %d did not reach %s, paused", n, orig.Now))
		v := snap(tab)
		if !strings.Contains(v.Status, "replayed up to where it was shared") {
			t.Errorf("replay %d does not say it stopped where the link was made: %q", n, v.Status)
		}
		if n == 1 {
			loadAxe(t, tab)
			accessible(t, tab, "cluster panel, a replayed run")
			screenshot(t, tab, "cluster-replayed")
		}
		return v
	}
	a, b := replay(1), replay(2)
	for _, r := range []struct {
		what string
		got  view
	}{{"the first replay", a}, {"the second replay", b}} {
		if strings.Join(r.got.Timeline, "\n") != strings.Join(orig.Timeline, "\n") {
			t.Errorf("%s's timeline:\n%s\nthe run's:\n%s", r.what, strings.Join(r.got.Timeline, "\n"), strings.Join(orig.Timeline, "\n"))
		}
		if strings.Join(r.got.Members, "\n") != strings.Join(orig.Members, "\n") {
			t.Errorf("%s's members:\n%s\nthe run's:\n%s", r.what, strings.Join(r.got.Members, "\n"), strings.Join(orig.Members, "\n"))
		}
	}
}
