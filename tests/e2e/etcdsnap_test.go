//go:build !js

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metastore/metastore/internal/etcdoracle"
)

// TestSnapshotRestoreFromEtcd moves a real etcd to MetaStore with the real tools: etcdctl
// writes a history to etcd (started in-process), `etcdctl snapshot save` saves it, `metastore
// snapshot status` and `restore` take the file, and a metastore process started on the data
// dir answers etcdctl as etcd did: every key at every revision since the compaction, the
// compaction error below it, the leases and their keys, the users and roles.
func TestSnapshotRestoreFromEtcd(t *testing.T) {
	etcd := etcdoracle.Start(t)
	ctl := func(endpoint string, args ...string) string {
		t.Helper()
		r, err := runAuthCtl(endpoint, "", args...)
		if err != nil || r.code != 0 {
			t.Fatalf("etcdctl %q on %s: %v %v", args, endpoint, r, err)
		}
		return r.stdout
	}
	for i := range 20 {
		ctl(etcd.Endpoint, "put", fmt.Sprintf("k%d", i%6), fmt.Sprintf("v%d", i))
		if i%5 == 4 {
			ctl(etcd.Endpoint, "del", fmt.Sprintf("k%d", i%3))
		}
	}
	ctl(etcd.Endpoint, "del", "k4", "k6") // a range delete
	ctl(etcd.Endpoint, "compaction", "10")
	lease := strings.Fields(ctl(etcd.Endpoint, "lease", "grant", "3600"))[1] // "lease <hex id> granted with TTL(3600s)"
	ctl(etcd.Endpoint, "put", "kl", "leased", "--lease", lease)
	ctl(etcd.Endpoint, "put", "k0", "last")
	ctl(etcd.Endpoint, "user", "add", "alice", "--new-user-password", "alice-pw")
	ctl(etcd.Endpoint, "role", "add", "reader")
	ctl(etcd.Endpoint, "role", "grant-permission", "reader", "read", "k", "--prefix")
	ctl(etcd.Endpoint, "user", "grant-role", "alice", "reader")

	var head struct {
		Header struct {
			Revision int64 `json:"revision"`
		} `json:"header"`
	}
	if err := json.Unmarshal([]byte(ctl(etcd.Endpoint, "get", "k0", "-w", "json")), &head); err != nil {
		t.Fatal(err)
	}
	cur := head.Header.Revision
	var count struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal([]byte(ctl(etcd.Endpoint, "get", "", "--prefix", "--keys-only", "-w", "json")), &count); err != nil || count.Count == 0 {
		t.Fatalf("count: %v %v", count, err)
	}
	// What each revision holds, as etcdctl prints it (less the header, which names the member).
	reads := func(endpoint string) []string {
		var out []string
		for r := int64(10); r <= cur; r++ {
			var resp struct {
				Kvs   json.RawMessage `json:"kvs"`
				Count int64           `json:"count"`
			}
			if err := json.Unmarshal([]byte(ctl(endpoint, "get", "", "--prefix", "--rev", fmt.Sprint(r), "-w", "json")), &resp); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d: %d %s", r, resp.Count, resp.Kvs))
		}
		for _, args := range [][]string{{"lease", "list"}, {"lease", "timetolive", lease, "--keys"}, {"user", "list"},
			{"user", "get", "alice"}, {"role", "get", "reader"}, {"get", "k", "--prefix", "--keys-only"}} {
			o := ctl(endpoint, args...)
			if args[1] == "timetolive" { // "lease … granted with TTL(3600s), remaining(3598s), attached keys([kl])"
				o = o[:strings.Index(o, "remaining")] + o[strings.Index(o, "attached"):]
			}
			out = append(out, strings.Join(args, " ")+": "+o)
		}
		r, err := runAuthCtl(endpoint, "", "get", "k0", "--rev", "9")
		if err != nil || r.code == 0 || !strings.Contains(r.stderr, "required revision has been compacted") {
			t.Fatalf("get below the compaction on %s: %v %v", endpoint, r, err)
		}
		return out
	}
	want := reads(etcd.Endpoint)
	if all := strings.Join(want, "\n"); !strings.Contains(all, "attached keys([kl])") || !strings.Contains(all, "reader") ||
		!strings.Contains(want[0], `"key":`) {
		t.Fatalf("etcd's answers lack what the history wrote:\n%s", all)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "etcd.db")
	if o := ctl(etcd.Endpoint, "snapshot", "save", file); !strings.Contains(o, "Snapshot saved") {
		t.Fatalf("snapshot save: %s", o)
	}
	out, err := snapshotCmd(t, "status", file, "-w", "json")
	var st struct {
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"totalKey"`
		TotalSize int64  `json:"totalSize"`
		Version   string `json:"version"`
	}
	fi, _ := os.Stat(file)
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Revision != cur || st.TotalKey != count.Count || st.TotalSize != fi.Size() || st.Version != "3.6.0" {
		t.Fatalf("status of etcd's file: %v %q; want revision %d, %d keys, %d bytes, version 3.6.0", err, out, cur, count.Count, fi.Size())
	}

	sp := newSpec(t)
	out, err = snapshotCmd(t, "restore", file, "--data-dir", sp.dir, "--name", "m1",
		"--initial-cluster", "m1=http://"+sp.peer, "--initial-advertise-peer-urls", "http://"+sp.peer)
	if err != nil || !strings.Contains(out, "converted etcd db") {
		t.Fatalf("restore of etcd's file: %v\n%s", err, out)
	}
	m := sp.start(t)
	got := reads(m.endpoint)
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("metastore restored from etcd's snapshot answers\n%s\netcd answered\n%s", got[i], want[i])
		}
	}
	// Writes go on from etcd's revision.
	if o := ctl(m.endpoint, "put", "k9", "after", "-w", "json"); !strings.Contains(o, fmt.Sprintf(`"revision":%d`, cur+1)) {
		t.Fatalf("put after the restore: %s, want revision %d", o, cur+1)
	}
}
