//go:build !js

package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/testserver"
)

// The playground's console is etcdctl reimplemented in TypeScript. These tests type the same
// script into the console and run it through the real etcdctl (v3.6.16, pinned in go.mod), each
// against a fresh store, and compare what they print, line by line.

var (
	etcdctlOnce sync.Once
	etcdctlBin  string
	etcdctlErr  error
)

func etcdctl(t *testing.T) string {
	t.Helper()
	etcdctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "metastore-etcdctl")
		if err != nil {
			etcdctlErr = err
			return
		}
		etcdctlBin = filepath.Join(dir, "etcdctl")
		if out, err := exec.Command("go", "build", "-o", etcdctlBin, "go.etcd.io/etcd/etcdctl/v3").CombinedOutput(); err != nil {
			etcdctlErr = fmt.Errorf("build etcdctl: %v\n%s", err, out)
		}
	})
	if etcdctlErr != nil {
		t.Fatal(etcdctlErr)
	}
	return etcdctlBin
}

// step is one command: a console line, and for txn the lines that follow it (etcdctl reads
// them from stdin; the console prompts for them). errorOnly compares only the "Error:" lines:
// etcdctl also prints its whole usage text for a bad flag, which the console leaves to help.
type step struct {
	line      string
	input     []string
	errorOnly bool
}

var script = []step{
	{line: "put a 1"},
	{line: "put b 2 --prev-kv"},
	{line: "put a 3 --prev-kv"},
	{line: "put c '{\"x\": 1}'"},
	{line: "get a"},
	{line: "get a -w json"},
	{line: "get '' --prefix"},
	{line: "get a c"},
	{line: "get a --from-key --keys-only"},
	{line: "get '' --from-key --limit=1 -w json"},
	{line: "get '' --prefix --sort-by=VALUE --order=DESCEND"},
	{line: "get '' --prefix --sort-by=MODIFY --order=ASCEND --limit 2"},
	{line: "get a --print-value-only"},
	{line: "get '' --prefix --count-only -w json"},
	{line: "get a --rev=1"},
	{line: "get a --rev=100"},
	{line: "get"},
	{line: "put"},
	{line: "put a b c"},
	{line: "del b --prev-kv"},
	{line: "del zzz"},
	{line: "del a c -w json"},
	{line: "put a 5"},
	{line: "txn", input: []string{`value("a") = "5"`, "", "put a 6", "get a", "", "get b", ""}},
	{line: "txn", input: []string{`mod("a") > "100"`, `create("b") = "0"`, "", "put a 7", "", "get a", "del a", ""}},
	{line: "txn -w json", input: []string{`version("a") = "0"`, "", "", "put z 1", ""}},
	{line: "lease grant 100"},
	{line: "put l v --lease=$LEASE"},
	{line: "lease timetolive $LEASE --keys"},
	{line: "lease list"},
	{line: "lease keep-alive --once $LEASE"},
	{line: "lease revoke $LEASE"},
	{line: "lease timetolive $LEASE"},
	{line: "lease revoke $LEASE"},
	{line: "get l"},
	{line: "compaction 3"},
	{line: "get a --rev=2"},
	{line: "compaction 2"},
	{line: "get z -w json"},
	{line: "foo"},
	{line: "get a --bogus", errorOnly: true},
}

var (
	idHex  = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	idJSON = regexp.MustCompile(`"ID":-?\d+`)
	// What the tab has no value for: it is no cluster member and runs no Raft.
	memberJSON = regexp.MustCompile(`"cluster_id":\d+,"member_id":\d+,|,"raft_term":\d+`)
)

func normalize(s string, tab bool) string {
	s = idJSON.ReplaceAllString(idHex.ReplaceAllString(s, "<id>"), `"ID":<id>`)
	if tab {
		s = memberJSON.ReplaceAllString(s, "")
	}
	return strings.TrimRight(s, "\n")
}

// shellWords splits a line as a POSIX shell would for these simple cases (single and
// double quotes, no escapes).
func shellWords(line string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// runEtcdctl runs the script through the real etcdctl against endpoint; it returns what each
// step printed, stdout and stderr in order, without the JSON log lines of etcdctl's client.
func runEtcdctl(t *testing.T, endpoint string) []string {
	bin := etcdctl(t)
	var out []string
	lease := ""
	for _, s := range script {
		args := append([]string{"--endpoints", endpoint}, shellWords(strings.ReplaceAll(s.line, "$LEASE", lease))...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, args...)
		if s.input != nil {
			cmd.Stdin = strings.NewReader(strings.Join(s.input, "\n") + "\n")
		}
		var both strings.Builder
		cmd.Stdout, cmd.Stderr = &both, &both
		cmd.Run()
		cancel()
		var text string
		for _, l := range strings.SplitAfter(both.String(), "\n") {
			if !strings.HasPrefix(l, `{"level"`) {
				text += l
			}
		}
		if m := leaseID.FindStringSubmatch(text); m != nil {
			lease = m[1]
		}
		out = append(out, text)
	}
	return out
}

// runConsole types the script into the playground's console, txn bodies line by line at
// its prompts as at etcdctl's interactive ones.
func runConsole(t *testing.T, ctx context.Context) []string {
	var out []string
	lease := ""
	for _, s := range script {
		text := printed(t, ctx, strings.ReplaceAll(s.line, "$LEASE", lease))
		for _, l := range s.input {
			text += printed(t, ctx, l)
		}
		if m := leaseID.FindStringSubmatch(text); m != nil {
			lease = m[1]
		}
		out = append(out, text)
	}
	return out
}

func compareWithEtcdctl(t *testing.T, want, got []string, tab bool) {
	t.Helper()
	for i, s := range script {
		w, g := normalize(want[i], tab), normalize(got[i], tab)
		if s.errorOnly {
			w, g = errorLines(w), errorLines(g)
		}
		if w != g {
			t.Errorf("%s %s\netcdctl printed:\n%s\nthe console printed:\n%s", s.line, strings.Join(s.input, " ⏎ "), w, g)
		}
	}
}

func errorLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "Error:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConsoleLikeEtcdctl: the console on the store in the tab against etcdctl on a fresh
// member.
func TestConsoleLikeEtcdctl(t *testing.T) {
	_, ref := testserver.Start(t, testserver.Options{})
	want := runEtcdctl(t, ref)
	ctx, _ := playground(t)
	compareWithEtcdctl(t, want, runConsole(t, ctx), true)
}

// TestConsoleLikeEtcdctlServer: the console connected to a fresh member (of another origin
// than the page's) against etcdctl on another: the same script, the same output, headers
// included.
func TestConsoleLikeEtcdctlServer(t *testing.T) {
	_, ref := testserver.Start(t, testserver.Options{})
	want := runEtcdctl(t, ref)
	ctx, page := playground(t)
	// Another origin than the page's: the member must allow it, as etcd's --cors does.
	_, other := testserver.Start(t, testserver.Options{CORS: grpcweb.ParseOrigins("http://" + page)})
	fill(t, ctx, `[aria-label="server address"]`, "http://"+other)
	click(t, ctx, "#connect-button")
	waitFor(t, ctx, `document.querySelector("#status").textContent.startsWith("http://")`, "did not connect")
	compareWithEtcdctl(t, want, runConsole(t, ctx), false)
}
