//go:build !js

package browser

import (
	"fmt"

	"regexp"
	"strings"
	"testing"
)

// TestPlaygroundClusterConsole: once the in-tab cluster runs, the console and the panels talk
// to it through a chosen member, as etcdctl --endpoints does: a put through one member is
// read through another (--endpoints), the key tree, the watch, lease and time-travel panels
// work through it, member list and endpoint status
// --cluster list every member with one leader, move-leader hands leadership over, a member
// added from the console joins (the cluster view lists it), the page's watch through its
// member sees a write made through another, and auth says it is not offered here.
func TestPlaygroundClusterConsole(t *testing.T) {
	ctx, _ := playground(t)
	clickWhenShown(t, ctx, "#tab-cluster")
	clickWhenShown(t, ctx, `#panel-cluster button[data-start="3"]`)
	waitFor(t, ctx, clusterLeaderJS+` !== ""`, "no member was elected leader")
	var lead string
	eval(t, ctx, `return `+clusterLeaderJS, &lead)
	through := "m1"
	if lead == through {
		through = "m2"
	}
	waitFor(t, ctx, fmt.Sprintf(`(() => { const s = document.querySelector("#cluster-member"); if (!s || s.closest("[hidden]")) return false;
		if (![...s.options].some((o) => o.value === %q)) return false; s.value = %q; s.dispatchEvent(new Event("change")); return true; })()`, through, through),
		"the toolbar offers no member of the cluster to use")
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector("[aria-label=output]").textContent.includes("Using the in-tab cluster through http://%s:2379")`, through),
		"the console does not say it uses the cluster")

	if out := command(t, ctx, "put greeting hello"); out != "OK" {
		t.Fatalf("put through %s: %q", through, out)
	}
	other := "m3"
	if through == other {
		other = "m2"
	}
	if out := command(t, ctx, fmt.Sprintf("get greeting --endpoints=http://%s:2379", other)); out != "greeting\nhello" {
		t.Fatalf("get through %s: %q", other, out)
	}
	waitFor(t, ctx, `document.querySelector("#panel-keys") !== null`, "no keys panel")
	clickWhenShown(t, ctx, "#tab-keys")
	waitFor(t, ctx, `document.querySelector("#panel-keys").textContent.includes("greeting")`, "the key tree does not show the key written through the cluster")

	// A console watch through the page's member sees a write made through another member
	// (from the cluster view's form, which the console does not see otherwise).
	command(t, ctx, "watch later")
	clickWhenShown(t, ctx, "#tab-cluster")
	waitFor(t, ctx, fmt.Sprintf(`(() => { const f = (l, v) => { const e = document.querySelector("#panel-cluster [aria-label='" + l + "']"); e.value = v; return e.value === v; };
		return f("through member", %q) && f("key", "later") && f("value", "x"); })()`, other), "the cluster view's form")
	waitFor(t, ctx, `(() => { const b = [...document.querySelectorAll("#panel-cluster button")].find((b) => b.textContent === "Put"); b.click(); return true; })()`, "no Put button")
	waitFor(t, ctx, `document.querySelector("[aria-label=output]").innerText.includes("PUT\nlater\nx")`,
		"the console's watch through "+through+" did not see the put through "+other)
	click(t, ctx, `#tasks button`)
	waitFor(t, ctx, `document.querySelector("#tasks").hidden`, "the watch did not stop")

	// The watch, lease and time-travel panels through the cluster too.
	click(t, ctx, "#tab-watch")
	fill(t, ctx, `[aria-label="watch key"]`, "/jobs/")
	click(t, ctx, `#panel-watch button[type=submit]`)
	waitFor(t, ctx, `document.querySelector("#panel-watch").innerText.includes("watching since revision")`, "the watch panel did not start a watch through the cluster")
	command(t, ctx, "put /jobs/1 build")
	waitFor(t, ctx, `document.querySelector("#panel-watch tbody").innerText.includes("/jobs/1")`, "the watch panel did not see a put through the cluster")
	m := leaseID.FindStringSubmatch(command(t, ctx, "lease grant 60"))
	if m == nil {
		t.Fatal("lease grant through the cluster printed no lease ID")
	}
	if got := command(t, ctx, fmt.Sprintf("put /svc/a up --lease=%s --endpoints=http://%s:2379", m[1], other)); got != "OK" {
		t.Fatalf("put with the lease through %s: %q", other, got)
	}
	click(t, ctx, "#tab-leases")
	waitFor(t, ctx, fmt.Sprintf(`document.querySelector("[data-lease='%s']")?.innerText.includes("/svc/a")`, m[1]), "the lease panel does not show the cluster's lease and its key")
	command(t, ctx, "put greeting again")
	click(t, ctx, "#tab-history")
	fill(t, ctx, `[aria-label="history key"]`, "greeting")
	click(t, ctx, `[aria-label="key history"] button`)
	waitFor(t, ctx, `(() => { const h = document.querySelector("[aria-label='key history'] tbody").innerText; return h.includes("PUT\t1\thello") && h.includes("PUT\t2\tagain"); })()`,
		"time travel does not show the key's history through the cluster")

	list := command(t, ctx, "member list")
	for _, m := range []string{"m1", "m2", "m3"} {
		if !strings.Contains(list, fmt.Sprintf(", started, %s, http://%s:2380, http://%s:2379, false", m, m, m)) {
			t.Fatalf("member list does not list %s as etcdctl does:\n%s", m, list)
		}
	}
	status := command(t, ctx, "endpoint status --cluster -w table")
	if n := strings.Count(status, "| http://m"); n != 3 {
		t.Fatalf("endpoint status --cluster lists %d endpoints, want 3:\n%s", n, status)
	}
	if n := len(regexp.MustCompile(`\|\s+true\s+\|\s+false\s+\|`).FindAllString(status, -1)); n != 1 {
		t.Fatalf("endpoint status --cluster shows %d leaders, want 1:\n%s", n, status)
	}

	// move-leader goes to the leader's endpoint, as etcdctl needs.
	ids := map[string]string{}
	for _, l := range strings.Split(list, "\n") {
		f := strings.Split(l, ", ")
		if len(f) > 3 {
			ids[f[2]] = f[0]
		}
	}
	target := "m3"
	if lead == target {
		target = "m2"
	}
	out := command(t, ctx, fmt.Sprintf("move-leader %s --endpoints=http://m1:2379,http://m2:2379,http://m3:2379", ids[target]))
	if !strings.Contains(out, "Leadership transferred from") || !strings.Contains(out, "to "+ids[target]) {
		t.Fatalf("move-leader: %q", out)
	}
	waitFor(t, ctx, clusterLeaderJS+fmt.Sprintf(` === %q`, target), "the cluster view does not show the new leader")

	clickWhenShown(t, ctx, "#tab-cluster")
	add := command(t, ctx, "member add m4 --peer-urls=http://m4:2380 --learner")
	if !strings.Contains(add, " added as learner to cluster ") || !strings.Contains(add, `ETCD_NAME="m4"`) {
		t.Fatalf("member add: %q", add)
	}
	waitFor(t, ctx, `document.querySelector("#panel-cluster tr[data-member=m4] [data-field=role]")?.textContent === "learner"`,
		"the member added from the console does not show as a learner in the cluster view")

	if out := command(t, ctx, "auth enable"); !strings.Contains(out, "auth is not offered by the in-tab cluster") {
		t.Fatalf("auth enable in the cluster: %q", out)
	}
	if out := command(t, ctx, "get greeting --endpoints=http://m9:2379"); !strings.Contains(out, "no member at http://m9:2379") {
		t.Fatalf("an unknown endpoint: %q", out)
	}
}
