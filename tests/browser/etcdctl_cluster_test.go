//go:build !js

package browser

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/node"
)

// clusterScript: etcd's membership commands on a cluster of three members (m0, m1, m2, m0
// leading), run against m0 unless a step says --endpoints. $M0…$M2 are the members' IDs
// (hex), $E0…$E2 their client host:ports, $P0…$P2 their peer URLs, $NEW the ID of the
// member the last member add added. The script leaves the cluster as it found it: three members, m0 leading.
var clusterScript = []step{
	{line: "member list"},
	{line: "member list -w table"},
	{line: "member list -w json"},
	{line: "member list -w json --hex"},
	{line: "member list -w fields"},
	{line: "member list -w fields --hex"},
	{line: "member list --consistency=s -w json --endpoints=$E1"},
	{line: "endpoint status --cluster -w table"},
	{line: "endpoint status --cluster"},
	{line: "endpoint status --cluster -w json"},
	{line: "endpoint status --cluster -w fields"},
	{line: "endpoint status --endpoints=$E2,$E0 -w table"},
	{line: "endpoint status --cluster --endpoints=$E2 -w table"},
	// endpoint health lists the members as they answer.
	{line: "endpoint health --cluster", sorted: true},
	{line: "endpoint health --cluster -w table", sorted: true},
	{line: "endpoint health --endpoints=$E1 -w json"},

	// move-leader asks each endpoint's status for the leader, and only the leader can move it.
	{line: "move-leader $M1"},
	{line: "move-leader $M2 --endpoints=$E0"},
	{line: "move-leader $M2 --endpoints=$E0,$E2 -w json"},
	{line: "move-leader $M0 --endpoints=$E2,$E0,$E1 -w json"},
	// Moved (to where it was), then the format is refused.
	{line: "move-leader $M0 -w fields"},
	{line: "move-leader 1234"},
	{line: "endpoint status --cluster -w table"},

	// A learner, which is never started: listed unstarted, without client URLs (so --cluster
	// skips it); it cannot be promoted before it has caught up.
	{line: "member add l1 --peer-urls=http://127.0.0.1:9 --learner"},
	{line: "member list", sorted: true},
	{line: "endpoint status --cluster -w table"},
	{line: "member promote $NEW"},
	{line: "member promote $M1"},
	{line: "member update $NEW --peer-urls=http://127.0.0.1:10,http://127.0.0.1:11"},
	{line: "member list", sorted: true},
	{line: "member add l2 --peer-urls=http://127.0.0.1:11 --learner"},
	// Removed, then the format is refused.
	{line: "member remove $NEW -w table"},
	{line: "member remove $NEW"},
	// A voter that never starts (a quorum of the four is still up).
	{line: "member add v1 --peer-urls=http://127.0.0.1:12"},
	{line: "member remove $NEW -w json"},
	// Updated (to the peer URL it has), then the format is refused.
	{line: "member update $M2 --peer-urls=$P2 -w fields"},
	{line: "member update 1234 --peer-urls=http://127.0.0.1:14"},
	{line: "member list -w table"},
}

var (
	// %16x pads an ID shorter than 16 digits; an added member's may be.
	memberAdded = regexp.MustCompile(`Member +(<new\d+>)`)
	// The new member's entry sorts among the others by its ID.
	initialCluster = regexp.MustCompile(`ETCD_INITIAL_CLUSTER="([^"]*)"`)
	raftJSON       = regexp.MustCompile(`"(raft_term|raftTerm|raftIndex|raftAppliedIndex|dbSize|dbSizeInUse)":\d+`)
	raftFields     = regexp.MustCompile(`(?m)^"(RaftTerm|RaftIndex|RaftAppliedIndex|DBSize|DBSizeInUse)" : \d+$`)
	// endpoint status -w simple: db size, in use, % not in use; raft term, index, applied index.
	statusSimple = regexp.MustCompile(`(?m)^([^,\n]+, [0-9a-f]+, [^,\n]*, [^,\n]*, )\d+(?:\.\d)? [kMGTPE]?B, \d+(?:\.\d)? [kMGTPE]?B, \d+%` +
		`(, [^,\n]+, (?:true|false), (?:true|false), )\d+, \d+, \d+,`)
	tookSimple = regexp.MustCompile(`(is healthy: successfully committed proposal: took = )\S+`)
	tookJSON   = regexp.MustCompile(`"took":"[^"]+"`)
	// tableCells: the table columns normalized, and what their cells must look like.
	tableCells = map[string]*regexp.Regexp{
		"DB SIZE":               regexp.MustCompile(`^\d+(\.\d)? [kMGTPE]?B$`),
		"IN USE":                regexp.MustCompile(`^\d+(\.\d)? [kMGTPE]?B$`),
		"PERCENTAGE NOT IN USE": regexp.MustCompile(`^\d+%$`),
		"RAFT TERM":             regexp.MustCompile(`^\d+$`),
		"RAFT INDEX":            regexp.MustCompile(`^\d+$`),
		"RAFT APPLIED INDEX":    regexp.MustCompile(`^\d+$`),
		"TOOK":                  regexp.MustCompile(`^[0-9.]+[µnm]?s$`),
	}
)

// clusterNormalizer: what differs between two runs of clusterScript on one cluster. The IDs of
// the members a run added (<new1>, <new2>…: random, so they also sort anywhere among the
// others), raft terms (each leader move starts one), the status' raft indexes and database
// sizes (each run adds to the log), and how long health checks took. Each is replaced only
// where it is printed as it should be, so a value missing or malformed on one side still
// differs.
func clusterNormalizer(v *scriptVars) func(string) string {
	return func(s string) string {
		for i, id := range v.learned["NEW"] {
			s = regexp.MustCompile(`\b`+id+`\b`).ReplaceAllString(s, fmt.Sprintf("<new%d>", i+1))
		}
		s = memberAdded.ReplaceAllString(s, "Member $1")
		s = initialCluster.ReplaceAllStringFunc(s, func(m string) string {
			entries := strings.Split(initialCluster.FindStringSubmatch(m)[1], ",")
			slices.Sort(entries)
			return `ETCD_INITIAL_CLUSTER="` + strings.Join(entries, ",") + `"`
		})
		s = raftJSON.ReplaceAllString(s, `"$1":<n>`)
		s = raftFields.ReplaceAllString(s, `"$1" : <n>`)
		s = statusSimple.ReplaceAllString(s, `$1<size>, <size>, <n>%$2<n>, <n>, <n>,`)
		s = tookSimple.ReplaceAllString(s, "$1<took>")
		s = tookJSON.ReplaceAllString(s, `"took":<took>`)
		return strings.TrimRight(normalizeTables(s), "\n")
	}
}

// normalizeTables rewrites each table in s cell by cell, the cells of tableCells that look
// as they should replaced by <COLUMN>, with one space around each cell (the widths follow the
// values); its borders become "+". tablesAligned checks the widths.
func normalizeTables(s string) string {
	lines := strings.Split(s, "\n")
	var header []string
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "+"):
			lines[i] = "+"
		case strings.HasPrefix(l, "|"):
			cells := strings.Split(strings.Trim(l, "|"), "|")
			for j := range cells {
				cells[j] = strings.TrimSpace(cells[j])
				if header != nil && j < len(header) {
					if re := tableCells[header[j]]; re != nil && re.MatchString(cells[j]) {
						cells[j] = "<" + header[j] + ">"
					}
				}
			}
			if header == nil {
				header = cells
			}
			lines[i] = "| " + strings.Join(cells, " | ") + " |"
		default:
			header = nil
		}
	}
	return strings.Join(lines, "\n")
}

// tablesAligned reports a table in s whose lines differ in width or whose columns do not line
// up with its borders ("" if every table is well drawn).
func tablesAligned(s string) string {
	var table []string
	check := func() string {
		defer func() { table = nil }()
		if len(table) == 0 {
			return ""
		}
		border := []rune(table[0])
		for _, l := range table {
			r := []rune(l)
			if len(r) != len(border) {
				return l
			}
			for k, c := range border {
				if (c == '+') != (r[k] == '+' || r[k] == '|') {
					return l
				}
			}
		}
		return ""
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "+") || strings.HasPrefix(l, "|") {
			table = append(table, l)
			continue
		}
		if bad := check(); bad != "" {
			return bad
		}
	}
	return check()
}

// TestClusterNormalizer: what two runs may differ in compares equal, in every format it is
// printed in, but only where it is there and looks as it should.
func TestClusterNormalizer(t *testing.T) {
	a := &scriptVars{learned: map[string][]string{"NEW": {"abc123"}}}
	b := &scriptVars{learned: map[string][]string{"NEW": {"f00d"}}}
	table := func(size, term string) string {
		return "+----+\n| DB SIZE | RAFT TERM | IS LEADER |\n+----+\n|  " + size + " | " + term + " | true |\n+----+"
	}
	for _, c := range []struct{ a, b string }{
		{"Member           abc123 added as learner to cluster 1\nETCD_INITIAL_CLUSTER=\"m0=u0,l1=u9\"", "Member             f00d added as learner to cluster 1\nETCD_INITIAL_CLUSTER=\"l1=u9,m0=u0\""},
		{`{"header":{"cluster_id":1,"member_id":2,"raft_term":3}}`, `{"header":{"cluster_id":1,"member_id":2,"raft_term":12}}`},
		{"\"RaftTerm\" : 3\n\"DBSize\" : 3489", "\"RaftTerm\" : 4\n\"DBSize\" : 20480"},
		{"http://a, 1, 3.6.16, 3.6.0, 3.5 kB, 0 B, 100%, 2.1 GB, true, false, 3, 8, 8, , , false", "http://a, 1, 3.6.16, 3.6.0, 25 kB, 20 kB, 20%, 2.1 GB, true, false, 5, 11, 11, , , false"},
		{table("3.5 kB", "3"), table("25 kB", "12")},
		{"a is healthy: successfully committed proposal: took = 5.6ms", "a is healthy: successfully committed proposal: took = 12.1ms"},
	} {
		if x, y := clusterNormalizer(a)(c.a), clusterNormalizer(b)(c.b); x != y {
			t.Errorf("%q and %q normalized to %q and %q", c.a, c.b, x, y)
		}
	}
	for _, c := range []struct{ a, b string }{
		{"Member abc123 added as learner to cluster 1", "Member f00e added as learner to cluster 1"},
		{`{"header":{"cluster_id":1,"member_id":2,"raft_term":3}}`, `{"header":{"cluster_id":1,"member_id":2}}`},
		{table("3.5 kB", "3"), table("", "3")},
		{table("3.5 kB", "3"), table("3.5 kB", "true")},
		{"http://a, 1, 3.6.16, 3.6.0, 3.5 kB, 0 B, 100%, 2.1 GB, true, false, 3, 8, 8, , , false", "http://a, 1, 3.6.16, 3.6.0, 3.5 kB, 0 B, 100%, 2.1 GB, false, false, 3, 8, 8, , , false"},
	} {
		if x, y := clusterNormalizer(a)(c.a), clusterNormalizer(b)(c.b); x == y {
			t.Errorf("%q and %q both normalized to %q", c.a, c.b, x)
		}
	}
	if bad := tablesAligned("+---+----+\n| a |  b |\n+---+----+\n| x | y |\n+---+----+"); bad != "| x | y |" {
		t.Errorf("a misaligned row was not found: %q", bad)
	}
}

// lead makes ms[i] the leader, through whichever member leads now, and waits until every
// member knows, and has every member's client URLs (a member publishes them once it has
// started: seconds later if a leader change drops the proposal).
func lead(t *testing.T, ms []*testserver.Member, i int) {
	t.Helper()
	target := ms[i].ID
	settled := func(m *testserver.Member) bool {
		list, err := m.Node().MemberList(context.Background(), false)
		return err == nil && m.Node().Leader() == target && len(list) == len(ms) &&
			!slices.ContainsFunc(list, func(x node.Member) bool { return len(x.ClientURLs) == 0 })
	}
	agreed := func() bool {
		return !slices.ContainsFunc(ms, func(m *testserver.Member) bool { return !settled(m) })
	}
	deadline := time.Now().Add(patience)
	for !agreed() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become the leader within %v", ms[i].Name, patience)
		}
		for _, m := range ms {
			if m.Node().IsLeader() && m.ID != target {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				m.Node().MoveLeader(ctx, target) // tried again until it is done
				cancel()
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConsoleLikeEtcdctlCluster runs clusterScript through etcdctl, then types it into the
// console connected to m0 of the same cluster (from another origin: the members allow the
// page, as etcd's --cors does), each run starting with m0 leading, and compares what they
// printed line by line. The console reaches the other members with --endpoints and --cluster.
func TestConsoleLikeEtcdctlCluster(t *testing.T) {
	bin := etcdctl(t)
	ctx, page := playground(t)
	ms := testserver.StartCluster(t, 3, testserver.Options{Node: fastLogins, CORS: grpcweb.ParseOrigins("http://" + page)})
	given := map[string]string{}
	for i, m := range ms {
		given[fmt.Sprintf("M%d", i)] = strconv.FormatUint(m.ID, 16)
		given[fmt.Sprintf("E%d", i)] = m.Addr
		given[fmt.Sprintf("P%d", i)] = m.PeerURL
	}

	lead(t, ms, 0)
	etcdctlVars := newVars(given)
	want := runEtcdctl(t, bin, ms[0].Addr, clusterScript, etcdctlVars)
	if t.Failed() {
		return
	}

	lead(t, ms, 0)
	fill(t, ctx, `[aria-label="server address"]`, "http://"+ms[0].Addr)
	click(t, ctx, "#connect-button")
	waitFor(t, ctx, `document.querySelector("#status").textContent.startsWith("http://")`, "did not connect")
	consoleVars := newVars(given)
	got := runConsole(t, ctx, clusterScript, consoleVars)

	if n := len(etcdctlVars.learned["NEW"]); n != 2 || len(consoleVars.learned["NEW"]) != n {
		t.Errorf("members added: etcdctl %v, the console %v; want 2 each", etcdctlVars.learned["NEW"], consoleVars.learned["NEW"])
	}
	for i, s := range clusterScript {
		if bad := tablesAligned(got[i]); bad != "" {
			t.Errorf("%s: the console's table is not aligned at %q:\n%s", s.line, bad, got[i])
		}
	}
	compareWithEtcdctl(t, clusterScript, want, got, clusterNormalizer(etcdctlVars), clusterNormalizer(consoleVars))
}
