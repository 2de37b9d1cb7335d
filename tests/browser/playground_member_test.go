//go:build !js

package browser

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/testserver"
)

// TestPlaygroundMemberPanel: in server mode the page shows a live view of the member. The
// member is on another origin (its --cors lists the page's), so its /metrics are read
// cross-origin, under the same rule as the API. After puts by another client (clientv3), the
// panel's revision reaches the member's, its chart has at least two points, the request rate
// and latency are numbers (from /metrics: no "not readable" note) and the raft figures are
// shown. No figure's size is checked: a busy machine may make any of them anything. Back in
// the tab, the panel is hidden. Axe finds nothing serious with the panel shown.
func TestPlaygroundMemberPanel(t *testing.T) {
	ctx, page := playground(t)
	_, addr := testserver.Start(t, testserver.Options{CORS: grpcweb.ParseOrigins("http://" + page)})

	var hidden bool
	eval(t, ctx, `return document.querySelector("#member").hidden;`, &hidden)
	if !hidden {
		t.Error("in the tab, the member panel is shown")
	}
	fill(t, ctx, `[aria-label="server address"]`, "http://"+addr)
	click(t, ctx, "#connect-button")
	waitFor(t, ctx, `document.querySelector("#status").textContent.startsWith("http://")`, "did not connect")

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var rev int64
	for i := range 3 {
		r, err := cli.Put(context.Background(), fmt.Sprintf("member/%d", i), "v")
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}

	figure := func(label string) string {
		return fmt.Sprintf(`document.querySelector('[aria-label=%q]').textContent`, label)
	}
	points := func(label string) string {
		return fmt.Sprintf(`Number(document.querySelector('[aria-label=%q]').dataset.points)`, label+", the last 60 samples")
	}
	number := func(label string) string {
		return fmt.Sprintf(`Number.isFinite(parseFloat(%s))`, figure(label))
	}
	waitFor(t, ctx, fmt.Sprintf(`%s === %q && %s >= 2`, figure("member revision"), strconv.FormatInt(rev, 10), points("member revision")),
		"the member panel's revision does not reach the member's, with two points on its chart")
	waitFor(t, ctx, number("member request rate")+" && "+number("member request latency")+" && "+points("member request rate")+" >= 1",
		"the member panel shows no request rate and latency (is /metrics readable cross-origin?)")
	if s := textOf(t, ctx, `[aria-label="member panel state"]`); s != "" {
		t.Errorf("the member panel says: %q", s)
	}
	for _, label := range []string{"member db size", "member db size in use", "member raft index", "member raft term"} {
		var ok bool
		eval(t, ctx, "return "+number(label)+";", &ok)
		if !ok {
			t.Errorf("%s: %q is not a number", label, textOf(t, ctx, fmt.Sprintf(`[aria-label=%q]`, label)))
		}
	}
	if s := textOf(t, ctx, `[aria-label="member leader"]`); s == "—" || s == "none" {
		t.Errorf("the member panel shows no leader: %q", s)
	}
	loadAxe(t, ctx)
	accessible(t, ctx, "server mode, member panel")
	screenshot(t, ctx, "server-member")

	click(t, ctx, "#use-tab")
	waitFor(t, ctx, `document.querySelector("#member").hidden && `+figure("member revision")+` === "—"`,
		"back in the tab, the member panel is still shown")
}
