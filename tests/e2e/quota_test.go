//go:build !js

package e2e

import (
	"errors"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestQuotaNoSpace fills a small quota: the write that would cross it fails with etcd's
// "database space exceeded" and raises NOSPACE; then writes that add data fail, reads,
// deletes, compaction and defragment work and free the space, and disarming then lets writes
// in again.
func TestQuotaNoSpace(t *testing.T) {
	m := startMember(t, "--quota-backend-bytes", "200000")
	c := m.client(t)
	cx := ctx(t)
	val := strings.Repeat("x", 10000)
	var err error
	n := 0
	for ; n < 100; n++ {
		if _, err = c.Put(cx, "big/"+string(rune('a'+n%26))+string(rune('a'+n/26)), val); err != nil {
			break
		}
	}
	if !errors.Is(err, rpctypes.ErrNoSpace) || n < 10 {
		t.Fatalf("after %d puts: %v, want ErrNoSpace", n, err)
	}
	al, err := c.AlarmList(cx)
	if err != nil || len(al.Alarms) != 1 || al.Alarms[0].Alarm != pb.AlarmType_NOSPACE {
		t.Fatalf("alarms: %+v %v", al, err)
	}
	if _, err := c.Put(cx, "small", "v"); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("put under NOSPACE: %v", err)
	}
	if _, err := c.Grant(cx, 60); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("lease grant under NOSPACE: %v", err)
	}
	st, err := c.Status(cx, m.endpoint)
	if err != nil || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "alarm:NOSPACE") || st.DbSizeQuota != 200000 {
		t.Fatalf("status: %+v %v", st, err)
	}
	if _, err := c.Get(cx, "big/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		t.Fatalf("read under NOSPACE: %v", err)
	}
	d, err := c.Delete(cx, "big/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("delete under NOSPACE: %v", err)
	}
	// etcd's way out: compact (physical: the deletes are in the backend when it answers),
	// defragment, disarm. What is in use shrinks with the compaction, the file with the defrag.
	full, err := c.Status(cx, m.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(cx, d.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("compact under NOSPACE: %v", err)
	}
	if _, err := c.Defragment(cx, m.endpoint); err != nil {
		t.Fatalf("defragment under NOSPACE: %v", err)
	}
	freed, err := c.Status(cx, m.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if freed.DbSizeInUse >= full.DbSizeInUse/10 || freed.DbSize >= full.DbSize {
		t.Fatalf("db size %d, in use %d after compaction and defragment; before: %d, %d",
			freed.DbSize, freed.DbSizeInUse, full.DbSize, full.DbSizeInUse)
	}
	if _, err := c.AlarmDisarm(cx, &clientv3.AlarmMember{MemberID: al.Alarms[0].MemberID, Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(cx, "small", "v"); err != nil {
		t.Fatalf("put after disarm: %v", err)
	}
}

// TestAutoCompactionPeriodic: with a one-second retention, history older than a second is
// compacted away without anyone asking.
func TestAutoCompactionPeriodic(t *testing.T) {
	m := startMember(t, "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1s")
	c := m.client(t)
	cx := ctx(t)
	c.Put(cx, "k", "1")
	pollUntil(t, func() bool {
		c.Put(cx, "k", "again")
		_, err := c.Get(cx, "k", clientv3.WithRev(2))
		return errors.Is(err, rpctypes.ErrCompacted)
	}, func() string { return "revision 2 still readable under a 1s periodic retention" })
}

// TestBadFlags: etcd's flags with bad values stop metastore with a clear message.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"--auto-compaction-mode", "weekly"}, "--auto-compaction-mode \"weekly\""},
		{[]string{"--auto-compaction-mode", "revision", "--auto-compaction-retention", "1h"}, "want a number of revisions"},
		{[]string{"--initial-cluster-state", "old"}, "--initial-cluster-state must be 'new' or 'existing'"},
		{[]string{"--election-timeout", "100"}, "must be at least 5 × --heartbeat-interval"},
		{[]string{"--max-txn-ops", "0"}, "must be positive"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--listen-client-urls", "https://127.0.0.1:1"}, "TLS key/cert (--cert-file, --key-file) must be provided"},
		{[]string{"--listen-client-urls", "ftp://127.0.0.1:1"}, "scheme must be http or https"},
		{[]string{"--name", "a", "--initial-cluster", "b=http://127.0.0.1:2380"}, `couldn't find local name "a" in the initial cluster configuration`},
	}
	for _, tt := range tests {
		out, err := runMetastore(t, tt.args...)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("metastore %v: err %v, output %q, want it to fail mentioning %q", tt.args, err, out, tt.want)
		}
	}
}
