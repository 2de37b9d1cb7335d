//go:build !js

package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// clusterLeaderJS is the member the cluster panel shows leading ("" for none).
const clusterLeaderJS = `([...document.querySelectorAll("#panel-cluster tr[data-member]")].find((r) => r.querySelector("[data-field=role]").textContent === "leader")?.dataset.member ?? "")`

// clusterResultJS is the text of the cluster panel's read/write result.
const clusterResultJS = `(document.querySelector("#panel-cluster output.result")?.textContent ?? "")`

// TestPlaygroundCluster: the Cluster tab runs 3 members of the server's member code in the
// tab (WebAssembly, in a worker of its own): a leader is elected; a put through a follower is
// read linearizably through the other; the leader stopped, another is elected, and the old
// one, restarted, catches up from its kept log; a member cut off refuses a linearizable read
// but answers a serializable one, and catches up once the network heals. The timeline lists
// the leader changes; axe finds nothing serious; the view is screenshotted for the README.
func TestPlaygroundCluster(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "..", "web", "dist", "metastore-cluster.wasm")); err != nil {
		t.Fatalf("the in-tab cluster's module is not built (run make web): %v", err)
	}
	ctx, _ := playground(t)
	clickWhenShown(t, ctx, "#tab-cluster")
	clickWhenShown(t, ctx, `#panel-cluster button[data-start="3"]`)
	waitFor(t, ctx, `document.querySelectorAll("#panel-cluster tr[data-member]").length === 3`, "the cluster panel does not list 3 members")
	waitFor(t, ctx, clusterLeaderJS+` !== ""`, "no member was elected leader")
	var lead string
	eval(t, ctx, `return `+clusterLeaderJS, &lead)
	var followers []string
	eval(t, ctx, fmt.Sprintf(`return [...document.querySelectorAll("#panel-cluster tr[data-member]")].map((r) => r.dataset.member).filter((m) => m !== %q)`, lead), &followers)

	// Fields are set by script, within patience: chromedp's SendKeys and SetValue wait for a
	// field to show without a limit of their own.
	set := func(label, v string) {
		t.Helper()
		sel := fmt.Sprintf(`#panel-cluster [aria-label=%q]`, label)
		waitFor(t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || e.offsetParent === null) return false; e.value = %q; return e.value === %q; })()`, sel, v, v),
			"the cluster panel has no field "+label+" to set to "+v)
	}
	through := func(member string) { t.Helper(); set("through member", member) }
	button := func(label string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#panel-cluster button")].find((b) => b.textContent === %q)`, label)
	}
	press := func(label string) {
		t.Helper()
		waitFor(t, ctx, fmt.Sprintf(`(() => { const b = %s; if (!b || b.disabled) return false; b.click(); return true; })()`, button(label)), "no button "+label)
	}
	set("key", "greeting")
	set("value", "hello")
	through(followers[0])
	press("Put")
	waitFor(t, ctx, clusterResultJS+`.startsWith("OK: greeting = hello")`, "a put through a follower did not succeed")
	through(followers[1])
	press("Get")
	waitFor(t, ctx, clusterResultJS+`.startsWith("greeting = hello") && `+clusterResultJS+`.includes("linearizable")`,
		"a linearizable read through the other follower does not see the put")

	press("Stop " + lead)
	waitFor(t, ctx, fmt.Sprintf(`%s !== "" && %s !== %q`, clusterLeaderJS, clusterLeaderJS, lead), "no other member took over from the stopped leader")
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector("#panel-cluster tr[data-member=%s] [data-field=role]").textContent === "stopped"`, lead),
		"the stopped member is not shown stopped")
	var next string
	eval(t, ctx, `return `+clusterLeaderJS, &next)
	press("Restart " + lead)
	applied := func(m string) string {
		return fmt.Sprintf(`Number(document.querySelector("#panel-cluster tr[data-member=%s] [data-field=applied]").textContent)`, m)
	}
	waitFor(t, ctx, fmt.Sprintf(`%s > 0 && %s === %s`, applied(lead), applied(lead), applied(next)), "the restarted member did not catch up")
	waitFor(t, ctx, `document.querySelectorAll("#panel-cluster .timeline li").length >= 2`, "the timeline does not list the leader change")

	cut := followers[0]
	if cut == next {
		cut = followers[1]
	}
	press("Cut " + cut + " off")
	through(cut)
	press("Get")
	waitFor(t, ctx, clusterResultJS+`.startsWith("Error: etcdserver: ")`, "a cut-off member answered a linearizable read")
	press("Get (serializable)")
	waitFor(t, ctx, clusterResultJS+`.startsWith("greeting = hello") && `+clusterResultJS+`.includes("serializable")`,
		"a cut-off member does not answer from its own copy")
	through(next)
	set("value", "again")
	press("Put")
	waitFor(t, ctx, clusterResultJS+`.startsWith("OK: greeting = again")`, "the majority did not take a write while one member was cut off")
	press("Heal the network")
	through(cut)
	// The healed member catches up when it does: each poll reads again.
	waitFor(t, ctx, fmt.Sprintf(`(() => { const r = %s; if (r.startsWith("greeting = again")) return true; if (r !== "…") %s.click(); return false; })()`, clusterResultJS, button("Get")),
		"the healed member did not catch up")

	clusterViewChecks(t, ctx, "cluster", "cluster panel")
}

// clusterViewChecks runs axe on the cluster panel and screenshots it (out/screenshots/name),
// then at phone width, where the members' table scrolls in its own box and the panel does
// not overflow; the page is left at phone width.
func clusterViewChecks(t *testing.T, ctx context.Context, name, what string) {
	t.Helper()
	loadAxe(t, ctx)
	accessible(t, ctx, what)
	screenshot(t, ctx, name)
	phoneWidth(t, ctx)
	fitsWidth(t, ctx, "#panel-cluster", "at 390 px the "+what)
	accessible(t, ctx, "390px, "+what)
	screenshot(t, ctx, name+"-phone")
}
