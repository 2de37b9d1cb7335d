//go:build !js

package e2e

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// runEtcdutl runs the real etcdutl to completion and returns its output.
func runEtcdutl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := etcdutlBin()
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 2*pollTimeout)
	defer cancel()
	out, err := exec.CommandContext(c, bin, args...).CombinedOutput()
	return string(out), err
}

// utlStatus is `etcdutl snapshot status -w json`'s answer.
type utlStatus struct {
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKey  int    `json:"totalKey"`
	TotalSize int64  `json:"totalSize"`
	Version   string `json:"version"`
}

func etcdutlStatus(t *testing.T, file string) utlStatus {
	t.Helper()
	out, err := runEtcdutl(t, "snapshot", "status", file, "-w", "json")
	var st utlStatus
	if err != nil || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st) != nil {
		t.Fatalf("etcdutl snapshot status %s: %v\n%s", file, err, out)
	}
	return st
}

// seedHistory writes n random operations through c: puts (some on leases), deletes of keys
// and prefixes, txns, lease grants and revokes, and a compaction halfway. It returns the
// compacted revision.
func seedHistory(t *testing.T, c *clientv3.Client, rng *rand.Rand, n int) int64 {
	t.Helper()
	cx := ctx(t)
	key := func() string {
		return fmt.Sprintf("%s%02d", []string{"k/", "k/1", "other/"}[rng.Intn(3)], rng.Intn(12))
	}
	var leases []clientv3.LeaseID
	var compacted int64
	for i := range n {
		var err error
		switch p := rng.Intn(100); {
		case i == n/2:
			var g *clientv3.GetResponse
			if g, err = c.Get(cx, "k"); err == nil {
				compacted = g.Header.Revision - 20
				_, err = c.Compact(cx, compacted, clientv3.WithCompactPhysical())
			}
		case p < 40:
			_, err = c.Put(cx, key(), fmt.Sprintf("v%d", rng.Intn(1000)))
		case p < 52 && len(leases) > 0:
			_, err = c.Put(cx, key(), "leased", clientv3.WithLease(leases[rng.Intn(len(leases))]))
		case p < 62:
			_, err = c.Delete(cx, key())
		case p < 65:
			_, err = c.Delete(cx, "k/1", clientv3.WithPrefix())
		case p < 82:
			k1, k2, k3 := key(), key(), key()
			if k1 == k2 || k2 == k3 || k1 == k3 {
				continue
			}
			_, err = c.Txn(cx).If(clientv3.Compare(clientv3.Version(k1), ">", 0)).
				Then(clientv3.OpPut(k2, "then"), clientv3.OpDelete(k3)).
				Else(clientv3.OpPut(k2, "else"), clientv3.OpPut(k3, "else")).Commit()
		case p < 90:
			var g *clientv3.LeaseGrantResponse
			if g, err = c.Grant(cx, []int64{600, 3600}[rng.Intn(2)]); err == nil {
				leases = append(leases, g.ID)
			}
		case p < 93 && len(leases) > 1:
			j := rng.Intn(len(leases))
			_, err = c.Revoke(cx, leases[j])
			leases = slices.Delete(leases, j, j+1)
		}
		if err != nil {
			t.Fatalf("history op %d: %v", i, err)
		}
	}
	return compacted
}

// storeView is what a client sees of a server's whole state, in text to compare: every key
// at every revision from the compaction on (the kvs with all their fields, the count and the
// header's revision), the compaction error below it, the events of a watch from the
// compacted revision, the leases (ID, granted TTL, keys) and the auth store.
func storeView(t *testing.T, c *clientv3.Client, compacted, cur int64) []string {
	t.Helper()
	cx := ctx(t)
	var out []string
	for r := compacted; r <= cur; r++ {
		g, err := c.Get(cx, "\x00", clientv3.WithFromKey(), clientv3.WithRev(r))
		if err != nil {
			t.Fatalf("get at %d: %v", r, err)
		}
		kvs, _ := json.Marshal(g.Kvs)
		out = append(out, fmt.Sprintf("at %d: header %d, count %d, %s", r, g.Header.Revision, g.Count, kvs))
	}
	if _, err := c.Get(cx, "k", clientv3.WithRev(compacted-1)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get below the compaction (%d): %v, want compacted", compacted-1, err)
	}

	wcx, cancel := context.WithTimeout(cx, pollTimeout)
	defer cancel()
	wc := c.Watch(wcx, "\x00", clientv3.WithFromKey(), clientv3.WithRev(compacted))
	for last := int64(0); last < cur; {
		select {
		case wr, ok := <-wc:
			if !ok || wr.Err() != nil {
				t.Fatalf("watch from %d: closed (%v) after revision %d of %d", compacted, wr.Err(), last, cur)
			}
			for _, ev := range wr.Events {
				kv, _ := json.Marshal(ev.Kv)
				out = append(out, fmt.Sprintf("event %s %s", ev.Type, kv))
				last = ev.Kv.ModRevision
			}
		case <-wcx.Done():
			t.Fatalf("watch from %d: no event past revision %d of %d", compacted, last, cur)
		}
	}

	ls, err := c.Leases(cx)
	if err != nil {
		t.Fatal(err)
	}
	// etcd lists its leases in its map's order.
	slices.SortFunc(ls.Leases, func(a, b clientv3.LeaseStatus) int { return cmp.Compare(a.ID, b.ID) })
	for _, l := range ls.Leases {
		ttl, err := c.TimeToLive(cx, l.ID, clientv3.WithAttachedKeys())
		if err != nil || ttl.TTL <= 0 {
			t.Fatalf("lease %x: %v %v", l.ID, ttl, err)
		}
		var keys []string
		for _, k := range ttl.Keys {
			keys = append(keys, string(k))
		}
		slices.Sort(keys)
		out = append(out, fmt.Sprintf("lease %x granted %d keys %q", l.ID, ttl.GrantedTTL, keys))
	}
	return append(out, authState(t, c))
}

// boltBuckets reads the given buckets of an etcd snapshot file (its SHA-256 cut off).
func boltBuckets(t *testing.T, file string, names ...string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(db, b[:len(b)-sha256.Size], 0o600); err != nil {
		t.Fatal(err)
	}
	bdb, err := bbolt.Open(db, 0o400, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	out := map[string]map[string]string{}
	err = bdb.View(func(tx *bbolt.Tx) error {
		for _, n := range names {
			m := map[string]string{}
			out[n] = m
			if b := tx.Bucket([]byte(n)); b != nil {
				b.ForEach(func(k, v []byte) error { m[string(k)] = string(v); return nil })
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSnapshotExportToEtcd moves a MetaStore member back to etcd with the real tools: a random
// history (puts, deletes, txns, leases with keys, a compaction, users and roles, auth on)
// goes into a member; `etcdctl snapshot save` saves it, `metastore snapshot export` writes it
// as an etcd snapshot, the real `etcdutl snapshot restore` (hash checked) makes a data dir of
// it, and an etcd started there answers as the member did: every key at every revision since
// the compaction, a watch from the compaction, the leases with their keys, the users (their
// passwords still work) and roles. etcdutl's status of the exported file is what it says of a
// snapshot etcd itself then saves, and etcd keeps the exported records as they were written.
func TestSnapshotExportToEtcd(t *testing.T) {
	m := startAuthMember(t)
	c := m.client(t)
	compacted := seedHistory(t, c, rand.New(rand.NewSource(12)), 300)
	if _, err := c.UserAddWithOptions(ctx(t), "svc", "", &clientv3.UserAddOptions{NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	setupAuth(t, c) // root:pw, alice:apw reading foo…, foo=bar, auth on
	root := authClient(t, "root", "pw", m.endpoint)
	p, err := root.Put(ctx(t), "k/last", "after auth")
	if err != nil {
		t.Fatal(err)
	}
	cur := p.Header.Revision
	want := storeView(t, root, compacted, cur)
	if all := strings.Join(want, "\n"); !strings.Contains(all, "event DELETE") || !strings.Contains(all, "lease ") ||
		!strings.Contains(all, `keys ["k/`) || !strings.Contains(all, "enabled=true") {
		t.Fatalf("the history lacks what the test is about:\n%s", all)
	}
	live, err := root.Get(ctx(t), "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	saved, exported := filepath.Join(dir, "metastore.db"), filepath.Join(dir, "etcd.db")
	if out, err := m.etcdctl(t, "", "--user", "root:pw", "snapshot", "save", saved); err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	out, err := snapshotCmd(t, "export", saved, "--output", exported)
	if err != nil || !strings.Contains(out, fmt.Sprintf("revision %d, compacted at %d", cur, compacted)) {
		t.Fatalf("export: %v\n%s", err, out)
	}
	st := etcdutlStatus(t, exported)
	if st.Revision != cur || st.TotalKey != int(live.Count) || st.Version != "3.6.0" {
		t.Fatalf("etcdutl status of the export: %+v; want revision %d, %d keys, version 3.6.0", st, cur, live.Count)
	}

	peer := freePort(t)
	etcdDir := filepath.Join(t.TempDir(), "e1.etcd")
	if out, err := runEtcdutl(t, "snapshot", "restore", exported, "--data-dir", etcdDir, "--name", "e1",
		"--initial-cluster", "e1=http://"+peer, "--initial-advertise-peer-urls", "http://"+peer); err != nil {
		t.Fatalf("etcdutl snapshot restore: %v\n%s", err, out)
	}
	etcd := startAuthEtcd(t, func(cfg *embed.Config) {
		pu := url.URL{Scheme: "http", Host: peer}
		cfg.Dir, cfg.Name, cfg.InitialCluster = etcdDir, "e1", "e1=http://"+peer
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	})
	eroot := authClient(t, "root", "pw", etcd.Endpoint)
	got := storeView(t, eroot, compacted, cur)
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := "(nothing)"
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("etcd restored from the export answers\n%s\nthe member answered\n%s", g, want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("etcd answers %d lines, the member %d:\n%s", len(got), len(want), strings.Join(got[len(want):], "\n"))
	}
	t.Logf("compared %d answers: revisions %d to %d, the watch, %d keys live", len(want), compacted, cur, live.Count)
	// HashKV is etcd's number on both sides, so the move can be checked with it.
	for _, rev := range []int64{compacted + 1, (compacted + cur) / 2, cur, 0} {
		mh, err := root.HashKV(ctx(t), m.endpoint, rev)
		if err != nil {
			t.Fatal(err)
		}
		eh, err := eroot.HashKV(ctx(t), etcd.Endpoint, rev)
		if err != nil {
			t.Fatal(err)
		}
		if mh.Hash != eh.Hash || mh.HashRevision != eh.HashRevision || mh.CompactRevision != eh.CompactRevision {
			t.Fatalf("HashKV at %d: the member %d (hash revision %d, compacted %d), etcd %d (%d, %d)", rev,
				mh.Hash, mh.HashRevision, mh.CompactRevision, eh.Hash, eh.HashRevision, eh.CompactRevision)
		}
	}
	// The password hashes came over: alice logs in and has her permissions.
	alice := authClient(t, "alice", "apw", etcd.Endpoint)
	if g, err := alice.Get(ctx(t), "foo"); err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "bar" {
		t.Fatalf("alice reads foo on etcd: %v %v", g, err)
	}
	if _, err := alice.Put(ctx(t), "foo", "x"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("alice writes foo on etcd: %v, want permission denied", err)
	}

	// etcd keeps what the export wrote (no compaction left to finish, nothing rewritten), and
	// etcdutl says the same of a snapshot etcd saves as of the export.
	again := filepath.Join(dir, "again.db")
	if r, err := runAuthCtl(etcd.Endpoint, "", "--user", "root:pw", "snapshot", "save", again); err != nil || r.code != 0 {
		t.Fatalf("snapshot save from etcd: %v %v", r, err)
	}
	if st2 := etcdutlStatus(t, again); st2.Revision != st.Revision || st2.TotalKey != st.TotalKey || st2.Version != st.Version {
		t.Fatalf("etcdutl status of etcd's own snapshot %+v, of the export %+v", st2, st)
	}
	names := []string{"key", "lease", "auth", "authUsers", "authRoles"}
	wb, gb := boltBuckets(t, exported, names...), boltBuckets(t, again, names...)
	for _, n := range names {
		if len(wb[n]) == 0 && n != "lease" || fmt.Sprint(wb[n]) != fmt.Sprint(gb[n]) {
			t.Fatalf("bucket %s: etcd holds %d entries, the export %d, or they differ", n, len(gb[n]), len(wb[n]))
		}
	}
	// Writes go on from the member's revision.
	if p, err := eroot.Put(ctx(t), "k/etcd", "after"); err != nil || p.Header.Revision != cur+1 {
		t.Fatalf("put on etcd: %v %v, want revision %d", p, err, cur+1)
	}

	// Refused: a damaged file (nothing written) and a file that is etcd's already.
	b, _ := os.ReadFile(saved)
	b[len(b)/2] ^= 0xff
	damaged, out2 := filepath.Join(dir, "damaged.db"), filepath.Join(dir, "out2.db")
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := snapshotCmd(t, "export", damaged, "--output", out2); err == nil || !strings.Contains(out, "sha256") {
		t.Fatalf("export of a damaged file: %v\n%s", err, out)
	}
	if out, err := snapshotCmd(t, "export", exported, "--output", out2); err == nil || !strings.Contains(out, "already an etcd snapshot") {
		t.Fatalf("export of an etcd file: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !slices.Contains([]string{"metastore.db", "etcd.db", "again.db", "damaged.db"}, e.Name()) {
			t.Fatalf("a refused export left %s behind", e.Name())
		}
	}
}
