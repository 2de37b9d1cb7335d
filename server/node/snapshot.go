package node

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/raftreq"
)

// A follower too far behind the leader's log gets the leader's state instead: a snapshot.
// Neither side holds the whole state in memory. The leader encodes a view of its store
// straight into the transport's stream (sendSnapshot); the follower restores the stream
// into a new database as it arrives (ReceiveSnapshot), then hands Raft the message with a
// token in place of the data. When Raft accepts it, the applier swaps the prepared store in
// (installSnapshot); one Raft ignores (it is older than what the follower has committed) is
// dropped once the follower has applied past it.
//
// The stream:
//
//	"MSRAFT\x01" | applied (8 bytes) | membership JSON length (4) + JSON | alarms JSON
//	length (4) + JSON | removed and refused JSON length (4) + JSON | core snapshot
//	(checksummed by the core)
//
// The transport checksums the whole stream too (server/peer).
var raftSnapMagic = []byte("MSRAFT\x01")

// maxSnapJSON bounds each JSON part of the stream's header, so that a damaged length fails
// instead of allocating without limit.
const maxSnapJSON = 64 << 20

type captured struct {
	applied uint64
	members []Member
	// removed IDs and refused conf changes (by index) travel with the members, so the
	// follower decides replays and later changes as the others do.
	removed  []uint64
	rejected []uint64
	alarms   []raftreq.AlarmMember
	state    *core.Snapshot
	release  func() // called once, when the state is written: it reads the database
}

// dbReaders counts the snapshot sends still reading a database, so that a database a
// snapshot install replaced is not closed under a send that took its state before: a
// leader that stepped down and fell behind can install a snapshot while still streaming
// its own to a follower.
type dbReaders struct {
	mu sync.Mutex
	m  map[DB]*dbReads
}

type dbReads struct {
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (d *dbReaders) acquire(db DB) (release func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[DB]*dbReads{}
	}
	r := d.m[db]
	if r == nil {
		r = &dbReads{idle: make(chan struct{})}
		d.m[db] = r
	}
	r.n++
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if r.n--; r.n == 0 {
			close(r.idle)
			delete(d.m, db)
		}
	}
}

// idle returns a channel closed once no send reads db.
func (d *dbReaders) idle(db DB) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.m[db]; r != nil {
		return r.idle
	}
	c := make(chan struct{})
	close(c)
	return c
}

// membershipExtra is the JSON of what travels with the member list.
type membershipExtra struct {
	Removed  []uint64 `json:"removed,omitempty"`
	Rejected []uint64 `json:"rejected,omitempty"`
}

// capture takes the state between two applies (the store's snapshot is a cheap clone).
func (r *raftNode) capture() captured {
	n := r.n
	c := captured{applied: max(n.applied.Load(), r.stored), members: n.members.list(), alarms: n.alarms.list(raftreq.AlarmNone),
		state: n.Store().Snapshot(), release: r.readers.acquire(n.DB())}
	c.removed = n.members.removedIDs()
	n.DB().AscendMeta(rejectedMetaPrefix, func(k string, _ []byte) bool {
		if b := []byte(k[len(rejectedMetaPrefix):]); len(b) == 8 {
			c.rejected = append(c.rejected, binary.BigEndian.Uint64(b))
		}
		return true
	})
	return c
}

func (c captured) encode(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.Write(raftSnapMagic)
	binary.Write(bw, binary.BigEndian, c.applied)
	for _, v := range []any{c.members, c.alarms, membershipExtra{Removed: c.removed, Rejected: c.rejected}} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		binary.Write(bw, binary.BigEndian, uint32(len(b)))
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return c.state.Encode(w)
}

// sendSnapshot streams the state to a follower with the snapshot message; the transport
// reports how it went (ReportSnapshot).
func (r *raftNode) sendSnapshot(m raftpb.Message) {
	n := r.n
	req := make(chan captured, 1)
	select {
	case r.captures <- req:
	case <-n.stopc:
		return
	}
	// The applier has the request: it answers at once (req has room), and what it captured
	// must be released, so this waits for it even if the member is stopping.
	c := <-req
	n.log.Info("sending a snapshot to a follower behind the log", "to", fmt.Sprintf("%x", m.To), "index", m.Snapshot.Metadata.Index)
	pr, pw := io.Pipe()
	encoded := make(chan error, 1)
	go func() {
		err := c.encode(pw)
		pw.CloseWithError(err)
		encoded <- err
	}()
	n.cfg.Transport.SendSnapshot(m, pr)
	// The transport has closed the reader (closing it again is harmless), so the encoder is
	// not blocked on it; waiting for it releases the store's view before this returns.
	pr.Close()
	err := <-encoded
	c.release()
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		n.log.Error("encoding a snapshot for a follower", "error", err)
	}
}

// prepared is a leader's state restored by ReceiveSnapshot, waiting for Raft to accept its
// snapshot message.
type prepared struct {
	index   uint64 // the snapshot's Raft index
	applied uint64 // the last entry the leader's store had applied
	store   *core.Store
	db      DB
	members []Member
	alarms  []raftreq.AlarmMember
	extra   membershipExtra
}

// preparedSet holds the states received and not yet installed, by token.
type preparedSet struct {
	receiving sync.Mutex // one snapshot is received at a time
	mu        sync.Mutex
	next      uint64
	byToken   map[uint64]*prepared
	closed    bool
	receivers sync.WaitGroup // ReceiveSnapshot calls under way: Stop waits for them
}

// begin counts a ReceiveSnapshot in, false once the member is stopping.
func (ps *preparedSet) begin() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return false
	}
	ps.receivers.Add(1)
	return true
}

// close refuses new states and waits for the receives under way (the member's stop has
// made their reads fail), then returns the states nobody installed.
func (ps *preparedSet) close() []*prepared {
	ps.mu.Lock()
	ps.closed = true
	ps.mu.Unlock()
	ps.receivers.Wait()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []*prepared
	for _, p := range ps.byToken {
		out = append(out, p)
	}
	ps.byToken = nil
	return out
}

var errStopping = errors.New("member stopping")

// stopReader fails once the member stops, so that a receive ends at its next read.
type stopReader struct {
	r    io.Reader
	stop <-chan struct{}
}

func (s stopReader) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, errStopping
	default:
	}
	return s.r.Read(p)
}

// tokenMagic starts a snapshot message's data once the state it stands for is prepared.
var tokenMagic = []byte("MSPREP\x01")

// ReceiveSnapshot takes a snapshot message from the leader with its state, read from body:
// the state is restored into a new database before Raft sees the message.
func (n *Node) ReceiveSnapshot(ctx context.Context, m raftpb.Message, body io.Reader) error {
	if n.members.isRemoved(m.From) {
		return fmt.Errorf("member %x was removed from the cluster", m.From)
	}
	if m.Type != raftpb.MsgSnap || m.Snapshot == nil {
		return errors.New("not a snapshot message")
	}
	r := n.r
	if !r.prep.begin() {
		return errStopping
	}
	defer r.prep.receivers.Done()
	body = stopReader{r: body, stop: n.stopc}
	r.prep.receiving.Lock()
	defer r.prep.receiving.Unlock()
	if m.Snapshot.Metadata.Index <= n.applied.Load() || m.Term < n.Term() {
		// Raft ignores it (this member has committed past it, or it comes from an old
		// term; in the first case Raft tells the leader how far this member is): the state
		// is not needed.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
		m.Snapshot.Data = nil
		return r.node.Step(ctx, m)
	}
	p, err := r.restoreSnapshot(m.Snapshot.Metadata.Index, body)
	if err != nil {
		return fmt.Errorf("restore the leader's snapshot: %w", err)
	}
	token, ok := r.prep.add(p)
	if !ok {
		r.drop(p)
		return errStopping
	}
	m.Snapshot.Data = binary.BigEndian.AppendUint64(append([]byte(nil), tokenMagic...), token)
	if err := r.node.Step(ctx, m); err != nil {
		if p := r.prep.take(token); p != nil {
			r.drop(p)
		}
		return err
	}
	// The member may have caught up from the log while the state arrived: Raft then
	// ignored the message, and nothing applies it if the cluster is idle.
	r.dropStale()
	n.log.Info("received the leader's snapshot", "from", fmt.Sprintf("%x", m.From), "index", p.index, "store-applied", p.applied)
	return nil
}

// restoreSnapshot reads a snapshot stream into a new database.
func (r *raftNode) restoreSnapshot(index uint64, body io.Reader) (*prepared, error) {
	n := r.n
	br := bufio.NewReaderSize(body, 64<<10)
	head := make([]byte, len(raftSnapMagic)+8)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("snapshot header: %w", err)
	}
	if string(head[:len(raftSnapMagic)]) != string(raftSnapMagic) {
		return nil, errors.New("not a MetaStore Raft snapshot")
	}
	p := &prepared{index: index, applied: binary.BigEndian.Uint64(head[len(raftSnapMagic):])}
	for _, v := range []any{&p.members, &p.alarms, &p.extra} {
		var l uint32
		if err := binary.Read(br, binary.BigEndian, &l); err != nil {
			return nil, fmt.Errorf("snapshot truncated: %w", err)
		}
		if l > maxSnapJSON {
			return nil, fmt.Errorf("snapshot: a header part of %d bytes", l)
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("snapshot truncated: %w", err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	db, err := n.cfg.Storage.NewDB(index)
	if err != nil {
		return nil, err
	}
	s, err := core.Restore(br, n.coreConfig(db))
	if err != nil {
		n.cfg.Storage.DropDB(db)
		return nil, err
	}
	p.store, p.db = s, db
	return p, nil
}

// add registers p and returns its token; false once the member is stopping.
func (ps *preparedSet) add(p *prepared) (uint64, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return 0, false
	}
	if ps.byToken == nil {
		ps.byToken = map[uint64]*prepared{}
	}
	ps.next++
	ps.byToken[ps.next] = p
	return ps.next, true
}

// take removes and returns the state of token, nil if there is none.
func (ps *preparedSet) take(token uint64) *prepared {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byToken[token]
	delete(ps.byToken, token)
	return p
}

// takeStale removes the states Raft can no longer install: those at or below applied (Raft
// installs a snapshot only above its commit index, which is at least applied).
func (ps *preparedSet) takeStale(applied uint64) []*prepared {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []*prepared
	for token, p := range ps.byToken {
		if p.index <= applied {
			out = append(out, p)
			delete(ps.byToken, token)
		}
	}
	return out
}

// drop closes a prepared state and removes its database.
func (r *raftNode) drop(p *prepared) {
	p.store.Close()
	r.n.cfg.Storage.DropDB(p.db)
}

// dropStale drops the prepared states Raft ignored, once this member has applied past them.
func (r *raftNode) dropStale() {
	for _, p := range r.prep.takeStale(r.n.applied.Load()) {
		r.drop(p)
	}
}

// installSnapshot makes the state ReceiveSnapshot prepared the member's: its database
// becomes the one in use, durably, then replaces the old one in memory, with the old
// store's watch streams; the old store is closed a little later.
func (r *raftNode) installSnapshot(snap raftpb.Snapshot) error {
	n := r.n
	data := snap.Data
	if len(data) != len(tokenMagic)+8 || string(data[:len(tokenMagic)]) != string(tokenMagic) {
		return errors.New("a snapshot message with no state received for it")
	}
	p := r.prep.take(binary.BigEndian.Uint64(data[len(tokenMagic):]))
	if p == nil || p.index != snap.Metadata.Index {
		return fmt.Errorf("no state received for the snapshot at %d", snap.Metadata.Index)
	}
	s, db := p.store, p.db
	s.SetApplied(p.applied)
	metas := []backend.MetaEntry{}
	ms := newMembership()
	for _, m := range p.members {
		metas = append(metas, ms.set(m))
	}
	idb, _ := json.Marshal(identity{MemberID: n.id, ClusterID: n.clusterID, Name: n.cfg.Name})
	metas = append(metas, backend.MetaEntry{Key: identityMetaKey, Value: idb})
	for _, a := range p.alarms {
		metas = append(metas, backend.MetaEntry{Key: alarmMetaKey(a.MemberID, a.Alarm), Value: []byte{1}})
	}
	for _, id := range p.extra.Removed {
		ms.removed[id] = true
		metas = append(metas, backend.MetaEntry{Key: idKey(removedMetaPrefix, id), Value: []byte{1}})
	}
	for _, i := range p.extra.Rejected {
		metas = append(metas, backend.MetaEntry{Key: idKey(rejectedMetaPrefix, i), Value: []byte{1}})
	}
	if err := s.CommitMeta(metas...); err != nil {
		return err
	}
	if err := db.Flush(); err != nil {
		return err
	}
	// The new database becomes the member's (a restart opens it), then replaces the old
	// one in memory. The old store is closed a little later, so that reads already on it
	// finish.
	discard, err := n.cfg.Storage.UseDB(db)
	if err != nil {
		return err
	}
	oldStore, oldDB := n.Store(), n.DB()
	n.dbp.Store(&db)
	n.store.Store(s)
	// Watch streams stay open: their watchers resume on the new store (etcd's
	// watchableStore.Restore). Nothing is applied to it before they have moved.
	oldStore.MoveWatchStreams(s)
	oldIdle := r.readers.idle(oldDB)
	n.retire(func() {
		<-oldIdle // a send ends at the latest when the member's Stop stops the transport
		oldStore.Close()
		oldDB.Close()
		discard()
	})
	// Membership and alarms as the leader had them; peers follow.
	old := n.members.list()
	n.members.mu.Lock()
	n.members.members, n.members.removed = ms.members, ms.removed
	n.members.mu.Unlock()
	for _, m := range old {
		if _, ok := n.members.get(m.ID); !ok && m.ID != n.id {
			n.cfg.Transport.RemovePeer(m.ID)
		}
	}
	for _, m := range n.members.list() {
		if m.ID != n.id {
			n.cfg.Transport.AddPeer(m.ID, m.PeerURLs)
		}
	}
	n.alarms.reset()
	n.loadAlarms()
	r.stored = p.applied
	r.confState = snap.Metadata.ConfState
	r.snapIndex = snap.Metadata.Index
	n.applied.Store(snap.Metadata.Index)
	n.appliedTerm.Store(snap.Metadata.Term)
	n.w.setApplied(snap.Metadata.Index)
	n.log.Info("installed the leader's snapshot", "index", snap.Metadata.Index, "store-applied", p.applied)
	return nil
}
