//go:build !js

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metastore/metastore/internal/syncbuf"
)

// TestEtcdctl runs etcdctl commands in sequence against one member and checks their output,
// which etcdctl prints from the responses it gets (revisions, values, counts, errors).
func TestEtcdctl(t *testing.T) {
	m := startMember(t)
	steps := []struct {
		name  string
		stdin string
		args  []string
		want  []string // substrings of the output, in order
		fail  bool
	}{
		{"put", "", []string{"put", "/app/a", "1"}, []string{"OK"}, false},
		{"put prev", "", []string{"put", "/app/a", "2", "--prev-kv"}, []string{"OK", "/app/a", "1"}, false},
		{"put b", "", []string{"put", "/app/b", "3"}, []string{"OK"}, false},
		{"get", "", []string{"get", "/app/a"}, []string{"/app/a\n2"}, false},
		{"get prefix", "", []string{"get", "/app/", "--prefix"}, []string{"/app/a\n2\n/app/b\n3"}, false},
		{"get keys only", "", []string{"get", "/app/", "--prefix", "--keys-only"}, []string{"/app/a\n\n/app/b"}, false},
		{"get limit sort", "", []string{"get", "/app/", "--prefix", "--limit=1", "--sort-by=VALUE", "--order=DESCEND"}, []string{"/app/b\n3"}, false},
		{"get count", "", []string{"get", "/app/", "--prefix", "--count-only", "-w", "fields"}, []string{`"Count" : 2`}, false},
		{"get rev", "", []string{"get", "/app/a", "--rev=2"}, []string{"/app/a\n1"}, false},
		{"get json", "", []string{"get", "/app/a", "-w", "json"}, []string{`"revision":4`, `"version":2`}, false},
		{"txn", "value(\"/app/a\") = \"2\"\n\nput /app/a 20\n\nput /app/a 99\n\n", []string{"txn"}, []string{"SUCCESS", "OK"}, false},
		{"txn result", "", []string{"get", "/app/a", "--print-value-only"}, []string{"20"}, false},
		{"del", "", []string{"del", "/app/b"}, []string{"1"}, false},
		{"del prefix none", "", []string{"del", "/nothing/", "--prefix"}, []string{"0"}, false},
		{"compaction", "", []string{"compaction", "3"}, []string{"compacted revision 3"}, false},
		{"get compacted", "", []string{"get", "/app/a", "--rev=2"}, []string{"required revision has been compacted"}, true},
		{"compact again", "", []string{"compaction", "3"}, []string{"required revision has been compacted"}, true},
		{"lease grant", "", []string{"lease", "grant", "300"}, []string{"granted with TTL(300s)"}, false},
		{"lease list", "", []string{"lease", "list"}, []string{"found 1 leases"}, false},
		{"lease revoke unknown", "", []string{"lease", "revoke", "1234"}, []string{"requested lease not found"}, true},
		{"endpoint status", "", []string{"endpoint", "status", "-w", "table"}, []string{"3.6.16", "true"}, false},
		{"endpoint health", "", []string{"endpoint", "health"}, []string{"is healthy"}, false},
		{"member list", "", []string{"member", "list"}, []string{"started, m1, http://127.0.0.1:", ", false"}, false},
		{"endpoint hashkv", "", []string{"endpoint", "hashkv", "-w", "json"}, []string{`"hash_revision":`}, false},
	}
	for _, st := range steps {
		out, err := m.etcdctl(t, st.stdin, st.args...)
		if (err != nil) != st.fail {
			t.Fatalf("%s: etcdctl %v: err %v, output:\n%s", st.name, st.args, err, out)
		}
		rest := out
		for _, w := range st.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("%s: etcdctl %v: output lacks %q:\n%s", st.name, st.args, w, out)
			}
			rest = rest[i+len(w):]
		}
	}
}

func TestEtcdctlLeaseLifecycle(t *testing.T) {
	m := startMember(t)
	out, err := m.etcdctl(t, "", "lease", "grant", "60")
	if err != nil {
		t.Fatal(out)
	}
	id := strings.Fields(out)[1]
	if out, err := m.etcdctl(t, "", "put", "leased", "v", "--lease="+id); err != nil {
		t.Fatal(out)
	}
	out, err = m.etcdctl(t, "", "lease", "timetolive", id, "--keys")
	if err != nil || !strings.Contains(out, "granted with TTL(60s)") || !strings.Contains(out, "attached keys([leased])") {
		t.Fatalf("timetolive: %v\n%s", err, out)
	}
	out, err = m.etcdctl(t, "", "lease", "keep-alive", "--once", id)
	if err != nil || !strings.Contains(out, "keepalived with TTL(60)") {
		t.Fatalf("keep-alive: %v\n%s", err, out)
	}
	if out, err := m.etcdctl(t, "", "lease", "revoke", id); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if out, _ := m.etcdctl(t, "", "get", "leased"); strings.TrimSpace(out) != "" {
		t.Fatalf("key of a revoked lease still there: %q", out)
	}
}

// TestEtcdctlWatch runs `etcdctl watch` in the background and writes with another etcdctl.
// The watch starts at the revision after the current one, so it sees the writes whether it
// is created before or after them.
func TestEtcdctlWatch(t *testing.T) {
	m := startMember(t)
	g, err := m.client(t).Get(ctx(t), "/w/")
	if err != nil {
		t.Fatal(err)
	}
	out := startEtcdctl(t, m, "watch", "/w/", "--prefix", "--prev-kv", fmt.Sprintf("--rev=%d", g.Header.Revision+1))
	m.etcdctl(t, "", "put", "/w/1", "a")
	m.etcdctl(t, "", "put", "/w/1", "b")
	m.etcdctl(t, "", "del", "/w/1")
	want := "PUT\n/w/1\na\nPUT\n/w/1\na\n/w/1\nb\nDELETE\n/w/1\nb\n/w/1\n\n"
	pollUntil(t, func() bool { return strings.Contains(out.String(), want) }, func() string {
		return fmt.Sprintf("watch output %q, want %q", out.String(), want)
	})
}

// startEtcdctl runs etcdctl in the background (a command that runs until killed, as watch
// and elect do) and returns its output as it comes; the process is killed when the test ends.
func startEtcdctl(t *testing.T, m *member, args ...string) *syncbuf.Buffer {
	t.Helper()
	cmd := exec.Command(bins.etcdctl, append([]string{"--endpoints", m.endpoint}, args...)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return out
}

func TestEtcdctlSnapshotLockElect(t *testing.T) {
	sp := newSpec(t)
	m := sp.start(t)
	m.etcdctl(t, "", "put", "k", "v")
	path := filepath.Join(t.TempDir(), "snap.db")
	out, err := m.etcdctl(t, "", "snapshot", "save", path)
	if err != nil || !strings.Contains(out, "Snapshot saved at") {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size()%512 != 32 { // payload in 512-byte blocks, then the SHA-256
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
	// The state went through a file in the data dir, removed once sent.
	if left, _ := filepath.Glob(filepath.Join(sp.dir, "member", "snapshot-*.spool")); len(left) != 0 {
		t.Fatalf("spooled snapshots left in the data dir: %v", left)
	}
	// etcdctl lock runs the command while holding the lock.
	out, err = m.etcdctl(t, "", "lock", "mylock", "echo", "locked-and-ran")
	if err != nil || !strings.Contains(out, "locked-and-ran") {
		t.Fatalf("lock: %v\n%s", err, out)
	}
	// etcdctl elect proposes, prints the leader key and value, and campaigns until killed.
	eout := startEtcdctl(t, m, "elect", "myelection", "candidate-1")
	pollUntil(t, func() bool { return strings.Contains(eout.String(), "candidate-1") }, func() string {
		return fmt.Sprintf("elect output %q", eout.String())
	})
	// elect -l observes the election until killed: it prints the leader's proposal.
	lout := startEtcdctl(t, m, "elect", "myelection", "-l")
	pollUntil(t, func() bool { return strings.Contains(lout.String(), "candidate-1") }, func() string {
		return fmt.Sprintf("elect -l output %q", lout.String())
	})
}
