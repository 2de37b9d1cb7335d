package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// receiveSetup starts a cluster on data dirs and returns a follower, its data dir, a
// valid snapshot stream of the leader's state, and a snapshot message to the follower.
func receiveSetup(t *testing.T) (c *cluster, fname, dataDir string, good []byte, msg func(index, term uint64) raftpb.Message) {
	t.Helper()
	c = newCluster(t, 3, 11, nil)
	lead := c.waitLeader()
	for _, name := range c.names {
		if c.node(name) != lead {
			fname = name
			break
		}
	}
	f := c.node(fname)
	c.put(lead, "a", "1")
	c.converged()
	var core bytes.Buffer
	if err := lead.Store().WriteSnapshot(&core); err != nil {
		t.Fatal(err)
	}
	good = snapStream(t, lead.AppliedIndex(), core.Bytes())
	msg = func(index, term uint64) raftpb.Message {
		return raftpb.Message{Type: raftpb.MsgSnap, From: lead.MemberID(), To: f.MemberID(), Term: term,
			Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: index, Term: term}}}
	}
	return c, fname, c.config(fname, "new").DataDir, good, msg
}

// TestReceiveSnapshotLeavesNothingBehind: a follower restores a snapshot into a new
// database as it arrives. One that is damaged is refused and its database removed at once;
// one from an old term, or below what the member applied, is not restored at all; one
// Raft ignores because the member caught up from the log meanwhile is removed as soon as
// Raft has seen it.
func TestReceiveSnapshotLeavesNothingBehind(t *testing.T) {
	c, fname, dataDir, good, msg := receiveSetup(t)
	f := c.node(fname)
	lead := c.waitLeader()
	ctx := context.Background()
	if f.Term() < 2 {
		t.Fatalf("term %d: a message from term 1 would not be stale", f.Term())
	}

	damaged := bytes.Clone(good)
	damaged[len(damaged)-10] ^= 0xff
	err := f.ReceiveSnapshot(ctx, msg(f.AppliedIndex()+3, f.Term()), bytes.NewReader(damaged))
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a damaged snapshot: %v", err)
	}
	if d := snapDirs(t, dataDir); len(d) != 0 {
		t.Fatalf("a refused snapshot left databases: %v", d)
	}

	for name, m := range map[string]raftpb.Message{
		"below the applied index": msg(f.AppliedIndex(), f.Term()),
		"from an old term":        msg(f.AppliedIndex()+3, 1),
	} {
		if err := f.ReceiveSnapshot(ctx, m, bytes.NewReader(good)); err != nil {
			t.Fatalf("a snapshot %s: %v", name, err)
		}
		if d := snapDirs(t, dataDir); len(d) != 0 {
			t.Fatalf("a snapshot %s was restored: %v", name, d)
		}
	}

	// The state arrives slowly; the member catches up from the log meanwhile.
	at := f.AppliedIndex() + 2
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- f.ReceiveSnapshot(ctx, msg(at, f.Term()), pr) }()
	pw.Write(good[:100])
	for i := 0; f.AppliedIndex() < at; i++ {
		c.put(lead, "b", string(rune('a'+i%26)))
	}
	go func() { pw.Write(good[100:]); pw.Close() }()
	if err := <-done; err != nil {
		t.Fatalf("a snapshot the member caught up with: %v", err)
	}
	if d := snapDirs(t, dataDir); len(d) != 0 {
		t.Fatalf("a snapshot Raft ignored kept its database: %v", d)
	}
	if v, ok := get(t, f, "a", true); !ok || v != "1" {
		t.Fatalf("the follower's state changed: a=%q", v)
	}
}

// gatedReader blocks its first read until gate is closed, telling entered it is there;
// reads counts the reads that returned.
type gatedReader struct {
	r       io.Reader
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
	reads   atomic.Int64
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered); <-g.gate })
	defer g.reads.Add(1)
	return g.r.Read(p)
}

// TestStopWaitsForReceiveSnapshot: a snapshot being received while the member stops fails
// at its next read and leaves no database in the data dir, and its reads are over when Stop
// returns. (That Stop waits for the receive, rather than the receive happening to end first,
// this test cannot force: the rest of Stop takes longer than the receive's last read.)
func TestStopWaitsForReceiveSnapshot(t *testing.T) {
	c, fname, dataDir, good, msg := receiveSetup(t)
	f := c.node(fname)
	body := &gatedReader{r: bytes.NewReader(good), entered: make(chan struct{}), gate: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- f.ReceiveSnapshot(context.Background(), msg(f.AppliedIndex()+5, f.Term()), body) }()
	<-body.entered
	stopped := make(chan struct{})
	go func() { c.stop(fname); close(stopped) }()
	<-f.Done() // stopping
	close(body.gate)
	<-stopped
	// The receive's reads all returned before Stop did (what comes after them in
	// ReceiveSnapshot is returning): its last read, the one the member's stop fails, too.
	readsAtStop := body.reads.Load()
	if err := <-errc; err == nil {
		t.Fatal("a snapshot received while the member stopped was taken")
	}
	if readsAtStop == 0 || body.reads.Load() != readsAtStop {
		t.Fatalf("Stop returned with the receive still reading: %d reads then, %d in the end", readsAtStop, body.reads.Load())
	}
	if d := snapDirs(t, dataDir); len(d) != 0 {
		t.Fatalf("databases left in the stopped member's data dir: %v", d)
	}
}

// TestProcessRefusesSnapshotWithoutState: a snapshot message that does not come through
// ReceiveSnapshot is refused, not handed to Raft (whose install would find no state).
func TestProcessRefusesSnapshotWithoutState(t *testing.T) {
	c, fname, _, _, msg := receiveSetup(t)
	f := c.node(fname)
	if err := f.Process(context.Background(), msg(f.AppliedIndex()+5, f.Term())); err == nil {
		t.Fatal("a snapshot message without its state was taken")
	}
	c.put(c.waitLeader(), "after", "1")
	c.converged()
}
