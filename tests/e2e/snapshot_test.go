//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// snapshotCmd runs `metastore snapshot ...` to completion.
func snapshotCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bins.metastore, append([]string{"snapshot"}, args...)...).CombinedOutput()
	return string(out), err
}

// history is what a restored member must answer exactly as the original did: every key at
// every revision since the compaction, the compaction itself, the leases and the auth store.
type history struct {
	rev, compacted int64
	atRev          map[int64]string // JSON of a prefix range at each revision
	leases         []clientv3.LeaseID
	users          []string
}

func readHistory(t *testing.T, c *clientv3.Client, rev, compacted int64) history {
	t.Helper()
	ctx := context.Background()
	h := history{rev: rev, compacted: compacted, atRev: map[int64]string{}}
	for r := compacted; r <= rev; r++ {
		resp, err := c.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithRev(r))
		if err != nil {
			t.Fatalf("get at %d: %v", r, err)
		}
		b, _ := json.Marshal(resp.Kvs)
		h.atRev[r] = string(b)
	}
	if _, err := c.Get(ctx, "k", clientv3.WithRev(compacted-1)); err != rpctypes.ErrCompacted {
		t.Fatalf("get below the compaction (%d): %v, want compacted", compacted-1, err)
	}
	ls, err := c.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls.Leases {
		h.leases = append(h.leases, l.ID)
	}
	ul, err := c.UserList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.users = ul.Users
	return h
}

func (h history) same(t *testing.T, who string, got history) {
	t.Helper()
	if got.rev != h.rev || fmt.Sprint(got.leases) != fmt.Sprint(h.leases) || fmt.Sprint(got.users) != fmt.Sprint(h.users) {
		t.Fatalf("%s: revision %d, leases %v, users %v; the original had %d, %v, %v", who, got.rev, got.leases, got.users, h.rev, h.leases, h.users)
	}
	for r, want := range h.atRev {
		if got.atRev[r] != want {
			t.Fatalf("%s at revision %d:\n got %s\nwant %s", who, r, got.atRev[r], want)
		}
	}
}

// TestSnapshotRestore: etcdctl saves a snapshot of a member with history, a compaction, a
// lease and users; `metastore snapshot restore` makes a new member, and a new 3-member
// cluster, of it; both answer every read as the original; status describes the file; a
// damaged file is refused and leaves no data dir behind.
func TestSnapshotRestore(t *testing.T) {
	orig := startMember(t)
	c := orig.client(t)
	ctx := context.Background()
	var last int64
	for i := range 12 {
		resp, err := c.Put(ctx, fmt.Sprintf("k%d", i%4), fmt.Sprintf("v%d", i))
		if err != nil {
			t.Fatal(err)
		}
		last = resp.Header.Revision
	}
	if _, err := c.Delete(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	lease, err := c.Grant(ctx, 3600)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Put(ctx, "kl", "leased", clientv3.WithLease(lease.ID))
	if err != nil {
		t.Fatal(err)
	}
	last = resp.Header.Revision
	if _, err := c.Compact(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserAdd(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	want := readHistory(t, c, last, 6)

	dir := t.TempDir()
	file := filepath.Join(dir, "snap.db")
	if out, err := orig.etcdctl(t, "", "snapshot", "save", file); err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}

	out, err := snapshotCmd(t, "status", file, "-w", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct {
		Revision  int64 `json:"revision"`
		TotalKey  int   `json:"totalKey"`
		TotalSize int64 `json:"totalSize"`
	}
	fi, _ := os.Stat(file)
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Revision != last || st.TotalKey != 4 || st.TotalSize != fi.Size() {
		t.Fatalf("status %q (%v): want revision %d, 4 keys (k0-k2, kl; k3 deleted), %d bytes", out, err, last, fi.Size())
	}

	// One new member.
	sp := newSpec(t)
	sp.name = "r1"
	out, err = snapshotCmd(t, "restore", file, "--data-dir", sp.dir, "--name", "r1",
		"--initial-cluster", "r1=http://"+sp.peer, "--initial-advertise-peer-urls", "http://"+sp.peer)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	r1 := sp.start(t)
	want.same(t, "restored member", readHistory(t, r1.client(t), last, 6))
	// It serves writes, on from the snapshot's revision.
	if resp, err := r1.client(t).Put(ctx, "k0", "after"); err != nil || resp.Header.Revision != last+1 {
		t.Fatalf("put on the restored member: %v, %v (want revision %d)", resp, err, last+1)
	}

	// A new 3-member cluster: each member restores the same file.
	base := t.TempDir()
	var specs []*spec
	var parts []string
	for i := 1; i <= 3; i++ {
		sp := &spec{name: fmt.Sprintf("n%d", i), dir: filepath.Join(base, fmt.Sprintf("n%d.etcd", i)), client: freePort(t), peer: freePort(t)}
		specs = append(specs, sp)
		parts = append(parts, sp.name+"=http://"+sp.peer)
	}
	var members []*member
	for _, sp := range specs {
		sp.cluster = strings.Join(parts, ",")
		out, err := snapshotCmd(t, "restore", file, "--data-dir", sp.dir, "--name", sp.name,
			"--initial-cluster", sp.cluster, "--initial-cluster-token", "restored", "--initial-advertise-peer-urls", "http://"+sp.peer)
		if err != nil {
			t.Fatalf("restore %s: %v\n%s", sp.name, err, out)
		}
		sp.extra = []string{"--initial-cluster-token", "restored"}
		members = append(members, sp.launch(t))
	}
	for i, m := range members {
		m.waitReady(t)
		want.same(t, specs[i].name, readHistory(t, m.client(t), last, 6))
	}
	ml, err := members[0].client(t).MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list of the restored cluster: %v %v", ml, err)
	}

	// --bump-revision with --mark-compacted: revisions go on past the old cluster's, whose
	// history is compacted away.
	for _, bad := range [][]string{{"--bump-revision", "10"}, {"--mark-compacted"}} {
		if out, err := snapshotCmd(t, append([]string{"restore", file, "--data-dir", filepath.Join(dir, "bad.etcd")}, bad...)...); err == nil || !strings.Contains(out, "--mark-compacted required") {
			t.Fatalf("restore %v: %v\n%s", bad, err, out)
		}
	}
	bsp := newSpec(t)
	if out, err := snapshotCmd(t, "restore", file, "--data-dir", bsp.dir, "--name", "m1", "--bump-revision", "1000", "--mark-compacted",
		"--initial-cluster", "m1=http://"+bsp.peer, "--initial-advertise-peer-urls", "http://"+bsp.peer); err != nil {
		t.Fatalf("restore with a bump: %v\n%s", err, out)
	}
	bc := bsp.start(t).client(t)
	if _, err := bc.Get(ctx, "k0", clientv3.WithRev(last)); err != rpctypes.ErrCompacted {
		t.Fatalf("get at the old revision after a bump: %v, want compacted", err)
	}
	if g, err := bc.Get(ctx, "k", clientv3.WithPrefix()); err != nil || g.Header.Revision != last+1000 || len(g.Kvs) != 4 {
		t.Fatalf("after a bump: %v %v, want revision %d and the 4 keys", g, err, last+1000)
	}

	// Damaged files: refused, nothing written.
	b, _ := os.ReadFile(file)
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)/2] ^= 0xff
	truncated := b[:len(b)-100]
	for name, content := range map[string][]byte{"flipped": flipped, "truncated": truncated, "empty": nil, "text": []byte("not a snapshot")} {
		bad := filepath.Join(dir, name)
		if err := os.WriteFile(bad, content, 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, name+".etcd")
		out, err := snapshotCmd(t, "restore", bad, "--data-dir", target)
		if err == nil || !strings.HasPrefix(out, "Error: ") {
			t.Fatalf("restore of a %s file: %v\n%s", name, err, out)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("restore of a %s file left %s behind (%v)", name, target, err)
		}
	}
	// Past the file's hash, the core's own checksum refuses it, and the half-made data dir goes.
	target := filepath.Join(dir, "skipped.etcd")
	if out, err := snapshotCmd(t, "restore", filepath.Join(dir, "flipped"), "--skip-hash-check", "--data-dir", target); err == nil || !strings.Contains(out, "checksum") {
		t.Fatalf("restore of a damaged file without the hash check: %v\n%s", err, out)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s behind (%v)", target, err)
	}
	// A data dir in use is never overwritten.
	if out, err := snapshotCmd(t, "restore", file, "--data-dir", sp.dir, "--name", "r1",
		"--initial-cluster", "r1=http://"+sp.peer, "--initial-advertise-peer-urls", "http://"+sp.peer); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("restore over an existing data dir: %v\n%s", err, out)
	}
}
