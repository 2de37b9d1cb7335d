package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// snapStream is a snapshot stream as a leader sends it: the Raft snapshot header (applied
// index, then the members, alarms and removed/refused lists as JSON, each after its length)
// and the core's snapshot of store.
func snapStream(t *testing.T, applied uint64, core []byte) []byte {
	t.Helper()
	b := append([]byte("MSRAFT\x01"), binary.BigEndian.AppendUint64(nil, applied)...)
	for _, js := range []string{"[]", "[]", "{}"} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(js)))
		b = append(b, js...)
	}
	return append(b, core...)
}

// snapDirs lists the databases in a member's data dir besides the one in use.
func snapDirs(t *testing.T, dataDir string) []string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(dataDir, "member", "db.*"))
	var out []string
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			out = append(out, filepath.Base(m))
		}
	}
	return out
}

// TestReceiveSnapshotLeavesNothingBehind: a follower restores a snapshot into a new
// database as it arrives. One that is damaged is refused and its database removed at once;
// one that Raft ignores (here: from an old term) is removed once the member has applied past
// it; one below what the member applied is not restored at all.
func TestReceiveSnapshotLeavesNothingBehind(t *testing.T) {
	c := newCluster(t, 3, 11, nil)
	lead := c.waitLeader()
	var fname string
	for _, name := range c.names {
		if c.node(name) != lead {
			fname = name
			break
		}
	}
	f := c.node(fname)
	c.put(lead, "a", "1")
	c.converged()
	if f.Term() < 2 {
		t.Fatalf("term %d: a message from term 1 would not be stale", f.Term())
	}
	var core bytes.Buffer
	if err := lead.Store().WriteSnapshot(&core); err != nil {
		t.Fatal(err)
	}
	dataDir := c.config(fname, "new").DataDir
	msg := func(index, term uint64) raftpb.Message {
		return raftpb.Message{Type: raftpb.MsgSnap, From: lead.MemberID(), To: f.MemberID(), Term: term,
			Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: index, Term: term}}}
	}
	ctx := context.Background()

	good := snapStream(t, lead.AppliedIndex(), core.Bytes())
	damaged := bytes.Clone(good)
	damaged[len(damaged)-10] ^= 0xff
	err := f.ReceiveSnapshot(ctx, msg(f.AppliedIndex()+3, 1), bytes.NewReader(damaged))
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a damaged snapshot: %v", err)
	}
	if d := snapDirs(t, dataDir); len(d) != 0 {
		t.Fatalf("a refused snapshot left databases: %v", d)
	}

	if err := f.ReceiveSnapshot(ctx, msg(f.AppliedIndex(), 1), bytes.NewReader(good)); err != nil {
		t.Fatalf("a snapshot the member has applied past: %v", err)
	}
	if d := snapDirs(t, dataDir); len(d) != 0 {
		t.Fatalf("a snapshot below the applied index was restored: %v", d)
	}

	at := f.AppliedIndex() + 3
	if err := f.ReceiveSnapshot(ctx, msg(at, 1), bytes.NewReader(good)); err != nil {
		t.Fatalf("a snapshot from an old term: %v", err)
	}
	if d := snapDirs(t, dataDir); len(d) != 1 {
		t.Fatalf("the received snapshot's database: %v, want one", d)
	}
	for i := 0; f.AppliedIndex() <= at; i++ {
		c.put(lead, "b", string(rune('a'+i%26)))
	}
	c.converged()
	c.eventually("the ignored snapshot's database removed", func() bool { return len(snapDirs(t, dataDir)) == 0 })
	if v, ok := get(t, f, "a", true); !ok || v != "1" {
		t.Fatalf("the follower's state changed: a=%q", v)
	}
}
