package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/core/mvcc"
)

// raftNode drives go.etcd.io/raft for the node. The Raft loop (run) owns the log and Raft's
// storage; the applier (apply.go) owns the store's writes.
type raftNode struct {
	n       *Node
	node    raft.Node
	storage *raft.MemoryStorage
	wal     Log

	applyc chan toApply
	// advanced: Raft has been told (Advance) that entries up to here are applied; only then
	// does it take the next conf change (it turns one proposed earlier into an empty entry).
	advanced *waits
	captures chan chan captured // requests for the state, to send as a snapshot
	prep     preparedSet        // states received from the leader, not installed yet
	readers  dbReaders          // snapshot sends reading a database

	// Owned by the applier:
	// bootLast is the last entry of the log this member restarted with: entries up to it
	// belong to its previous run (a login among them makes no token now).
	bootLast uint64
	// stored is the last entry whose changes the store holds (from a restart or a
	// snapshot): normal entries up to it are not applied again.
	stored    uint64
	confState raftpb.ConfState
	snapIndex uint64
	snapping  atomic.Bool
	// forceSnap asks the applier for a snapshot at the next entry, however few came since
	// the last one (etcd's forceSnapshot): a member was added, and a snapshot taken before
	// its conf change would not name it. A joining member behind a truncated log catches up
	// from the leader's last snapshot, and refuses one that does not name it; the leader
	// would send it that old one again and again.
	forceSnap bool
	snapDone  chan snapResult
	// campaignAfter: a single member campaigns at once, after applying the entries
	// committed before it started (Raft refuses while conf changes are pending).
	campaignAfter uint64
	readyWait     atomic.Bool
}

// toApply is what the Raft loop hands the applier: committed entries, or a snapshot from
// the leader to install. done is closed once it is applied.
type toApply struct {
	entries  []raftpb.Entry
	snapshot raftpb.Snapshot
	done     chan struct{}
}

type snapResult struct {
	meta raftpb.SnapshotMetadata
	err  error
}

func watchConfig(c Config) mvcc.WatchConfig {
	return mvcc.WatchConfig{ProgressNotifyInterval: c.WatchProgressNotifyInterval}
}

// openRaft opens the member's backend and log and recovers (the backend holds the state up
// to the entry it records as applied; the log holds what follows the last snapshot), or
// bootstraps: a new cluster from --initial-cluster, or a member joining an existing one.
func openRaft(n *Node) (*raftNode, error) {
	w, st, err := n.cfg.Storage.OpenLog()
	if err != nil {
		return nil, err
	}
	// A log with nothing in it (a first start that failed before its first write) is a
	// new one: the member bootstraps again.
	existing := st.Snapshot.Index > 0 || !raft.IsEmptyHardState(st.HardState) || len(st.Entries) > 0
	db, err := n.cfg.Storage.OpenDB()
	if err != nil {
		w.Close()
		return nil, err
	}
	fail := func(err error) (*raftNode, error) {
		if s := n.store.Load(); s != nil {
			s.Close()
		}
		db.Close()
		w.Close()
		return nil, err
	}
	n.dbp.Store(&db)
	if err := n.members.load(db); err != nil {
		return fail(err)
	}
	n.loadAlarms()

	var id identity
	raw, hasIdentity := db.Meta(identityMetaKey)
	if hasIdentity {
		if err := json.Unmarshal(raw, &id); err != nil {
			return fail(fmt.Errorf("%s: unreadable identity: %w", n.cfg.Storage, err))
		}
	}
	var bootstrap []Member
	if !hasIdentity || n.cfg.InitialClusterState == "new" {
		ms, cid, err := n.bootstrapMembers()
		if err != nil && !hasIdentity {
			return fail(err)
		}
		if err == nil {
			self, err := n.self(ms)
			if err != nil && !hasIdentity {
				return fail(err)
			}
			want := identity{MemberID: self.ID, ClusterID: cid, Name: self.Name}
			switch {
			case !hasIdentity:
				id, bootstrap = want, ms
			case n.cfg.InitialClusterState == "new" && err == nil && want.MemberID != id.MemberID:
				// The cluster ID is not compared: --initial-cluster may since list members
				// added later (etcd ignores it once a member has a log).
				return fail(fmt.Errorf("%s belongs to member %x of cluster %x, but the flags make this member %x: use the data dir of this member, or an empty one",
					n.cfg.Storage, id.MemberID, id.ClusterID, want.MemberID))
			}
		}
	}
	n.id, n.clusterID = id.MemberID, id.ClusterID
	n.ids = idgen.New(uint16(n.id), n.cfg.Clock.Now())
	s, err := core.New(n.coreConfig(db))
	if err != nil {
		return fail(fmt.Errorf("open store: %w", err))
	}
	n.store.Store(s)
	r := &raftNode{n: n, storage: raft.NewMemoryStorage(), wal: w, stored: s.Applied(),
		applyc: make(chan toApply, 16), advanced: newWaits(), captures: make(chan chan captured), snapDone: make(chan snapResult, 1)}
	c := &raft.Config{
		ID:              n.id,
		ElectionTick:    max(int(n.cfg.ElectionTimeout/n.cfg.HeartbeatInterval), 2),
		HeartbeatTick:   1,
		Storage:         r.storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 512,
		CheckQuorum:     true,
		PreVote:         !n.cfg.DisablePreVote,
		Logger:          raftLogger{n.log},
	}
	if !existing {
		if r.stored != 0 {
			return fail(fmt.Errorf("%s holds a store (applied up to %d) but no log", n.cfg.Storage, r.stored))
		}
		if err := n.saveIdentity(); err != nil {
			return fail(err)
		}
		if n.cfg.InitialClusterState == "existing" {
			// The leader sends the log (or a snapshot) that adds every member, this one too;
			// until then the transport needs the others' addresses.
			// (Only the transport learns them here: the membership is what the log says.)
			n.joinPeers = bootstrap
			n.log.Info("joining an existing cluster", "member-id", fmt.Sprintf("%x", n.id), "cluster-id", fmt.Sprintf("%x", n.clusterID))
			r.node = raft.RestartNode(c)
			return r, nil
		}
		peers := make([]raft.Peer, 0, len(bootstrap))
		sort.Slice(bootstrap, func(i, j int) bool { return bootstrap[i].ID < bootstrap[j].ID })
		for _, m := range bootstrap {
			ctx, _ := json.Marshal(Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs})
			peers = append(peers, raft.Peer{ID: m.ID, Context: ctx})
			// Known now so the transport can reach them; the conf change entries record them.
			n.members.mu.Lock()
			c := Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs}
			n.members.members[m.ID] = &c
			n.members.mu.Unlock()
		}
		n.log.Info("starting a new cluster", "member-id", fmt.Sprintf("%x", n.id), "cluster-id", fmt.Sprintf("%x", n.clusterID), "members", len(peers))
		r.campaignAfter = uint64(len(peers))
		r.node = raft.StartNode(c, peers)
		return r, nil
	}
	if !hasIdentity {
		// A data dir from before clusters: one member, identified by its flags.
		if err := n.saveIdentity(); err != nil {
			return fail(err)
		}
	}
	if len(n.members.list()) == 0 && len(bootstrap) > 0 {
		var metas []backend.MetaEntry
		for _, m := range bootstrap {
			metas = append(metas, n.members.set(m))
		}
		if err := n.Store().CommitMeta(metas...); err != nil {
			return fail(err)
		}
	}
	if st.Snapshot.Index > 0 {
		if r.stored < st.Snapshot.Index {
			return fail(fmt.Errorf("the store (applied up to %d) is behind the log's snapshot (%d): %s damaged", r.stored, st.Snapshot.Index, n.cfg.Storage))
		}
		// Raft's storage keeps only the snapshot's metadata: the state is in the backend.
		if err := r.storage.ApplySnapshot(raftpb.Snapshot{Metadata: st.Snapshot}); err != nil {
			return fail(err)
		}
		r.confState = st.Snapshot.ConfState
		r.snapIndex = st.Snapshot.Index
		n.applied.Store(st.Snapshot.Index)
		n.appliedTerm.Store(st.Snapshot.Term)
		n.w.setApplied(st.Snapshot.Index)
		c.Applied = st.Snapshot.Index
	}
	if err := r.storage.SetHardState(st.HardState); err != nil {
		return fail(err)
	}
	if err := r.storage.Append(st.Entries); err != nil {
		return fail(err)
	}
	if len(st.Entries) > 0 {
		r.bootLast = st.Entries[len(st.Entries)-1].Index
	}
	n.committed.Store(st.HardState.Commit)
	n.term.Store(st.HardState.Term)
	n.log.Info("recovered", "member-id", fmt.Sprintf("%x", n.id), "store-applied", r.stored, "snapshot-index", r.snapIndex, "log-entries", len(st.Entries), "commit", st.HardState.Commit)
	r.campaignAfter = st.HardState.Commit
	r.node = raft.RestartNode(c)
	return r, nil
}

func clusterIDOf(ms []Member) uint64 {
	ids := make([]uint64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ClusterID(ids)
}

// run is the Raft loop: tick, and for each Ready: send (the leader before persisting, as
// the Raft thesis allows; followers after), persist, hand committed entries to the applier,
// advance.
func (r *raftNode) run() {
	n := r.n
	ticker := n.cfg.Clock.NewTicker(n.cfg.HeartbeatInterval)
	defer ticker.Stop()
	defer r.node.Stop()
	if ms := n.members.list(); len(ms) == 1 && ms[0].ID == n.id {
		// A single member need not wait out an election timeout.
		at := n.w.appliedAt(r.campaignAfter)
		go func() {
			select {
			case <-at:
				r.node.Campaign(context.Background())
			case <-n.stopc:
			}
		}()
	}
	for {
		select {
		case <-n.stopc:
			return
		case <-ticker.C():
			r.node.Tick()
		case res := <-r.snapDone:
			r.snapshotSaved(res)
		case rd := <-r.node.Ready():
			if !r.handleReady(rd) {
				return
			}
		}
	}
}

func (r *raftNode) handleReady(rd raft.Ready) bool {
	n := r.n
	if rd.SoftState != nil {
		if old := n.leader.Swap(rd.SoftState.Lead); old != rd.SoftState.Lead {
			if rd.SoftState.Lead != n.id {
				// Not leading (any more): this member's lease deadlines are stale until it
				// leads again and promotes them.
				n.leasesPromoted.Store(false)
				if rd.SoftState.Lead != 0 {
					n.followedOther.Store(true)
				}
			}
			if rd.SoftState.Lead != 0 {
				n.cfg.ObserveLeaderChange()
			}
			n.log.Info("leader changed", "leader", fmt.Sprintf("%x", rd.SoftState.Lead), "was", fmt.Sprintf("%x", old))
			n.reads.leaderChanged()
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		n.term.Store(rd.HardState.Term)
		n.committed.Store(rd.HardState.Commit)
	}
	if len(rd.ReadStates) > 0 {
		n.reads.readState(rd.ReadStates[len(rd.ReadStates)-1])
	}
	// The leader sends before persisting, as the Raft thesis allows. A follower sends now
	// all but what vouches for its log or vote, so its forwarded proposals and reads do not
	// wait out its sync (over a millisecond with three members on one disk).
	now, afterWrite := rd.Messages, []raftpb.Message(nil)
	if !n.IsLeader() {
		now, afterWrite = splitAfterWrite(rd.Messages)
	}
	r.send(now)
	if !raft.IsEmptySnap(rd.Snapshot) {
		// The leader's state replaces ours: installed (and durable) before the log says it
		// starts after it.
		if !r.toApplier(toApply{snapshot: rd.Snapshot}, true) {
			return false
		}
		if err := r.wal.Compact(rd.Snapshot.Metadata, rd.HardState, nil); err != nil {
			r.fatal("persist snapshot", err)
		}
		meta := rd.Snapshot
		meta.Data = nil // the state is in the database now; Raft's storage keeps the metadata
		if err := r.storage.ApplySnapshot(meta); err != nil {
			r.fatal("apply snapshot to raft storage", err)
		}
	}
	// Committed entries this member saved in an earlier Ready go to the applier before this
	// Ready's write, so they are applied during its sync, as etcd applies beside its log
	// write; otherwise every write under load also waited for the next write's sync (over a
	// millisecond with three members on one disk). Those that arrive with this Ready (Raft
	// hands out committed entries before they are stable) still wait for the write. The
	// store may then hold an applied index above the commit index the log holds, as it
	// already may after a commit-only hard state (never synced at once): a restart skips
	// those entries when Raft commits them again (TestRestartWithStoreAheadOfLogCommit).
	// Snapshots and conf changes keep the plain order.
	committed := rd.CommittedEntries
	if len(committed) > 0 && raft.IsEmptySnap(rd.Snapshot) && !hasConfChange(committed) {
		if last, err := r.storage.LastIndex(); err == nil && committed[0].Index <= last {
			k := min(uint64(len(committed)), last+1-committed[0].Index) // they are consecutive
			if !r.toApplier(toApply{entries: committed[:k]}, false) {
				return false
			}
			committed = committed[k:]
		}
	}
	// Durable before applied or acknowledged: one fsync covers every entry of this Ready,
	// so concurrent proposals share it (group commit).
	if err := r.wal.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
		r.fatal("persist log", err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		r.storage.SetHardState(rd.HardState)
	}
	r.storage.Append(rd.Entries)
	r.send(afterWrite)
	// A conf change must reach Raft (ApplyConfChange) before the loop goes on.
	if len(committed) > 0 && !r.toApplier(toApply{entries: committed}, hasConfChange(committed)) {
		return false
	}
	if n.leader.Load() != 0 && r.readyWait.CompareAndSwap(false, true) {
		// Ready once everything committed when a leader became known is applied.
		at := n.w.appliedAt(n.committed.Load())
		go func() {
			select {
			case <-at:
				n.setReady()
			case <-n.stopc:
			}
		}()
	}
	r.node.Advance()
	if l := len(rd.CommittedEntries); l > 0 {
		r.advanced.setApplied(rd.CommittedEntries[l-1].Index)
	}
	return true
}

// toApplier hands ap to the applier and, if wait, waits until it is applied; false if the
// member stopped first.
func (r *raftNode) toApplier(ap toApply, wait bool) bool {
	ap.done = make(chan struct{})
	select {
	case r.applyc <- ap:
	case <-r.n.stopc:
		return false
	}
	if wait {
		select {
		case <-ap.done:
		case <-r.n.stopc:
			return false
		}
	}
	return true
}

// splitAfterWrite separates the messages that may leave only once the Ready they came with
// is durable: responses to appends and votes, the ones go.etcd.io/raft itself holds back
// until the write when storage writes are asynchronous.
func splitAfterWrite(msgs []raftpb.Message) (now, after []raftpb.Message) {
	for _, m := range msgs {
		switch m.Type {
		case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
			after = append(after, m)
		default:
			now = append(now, m)
		}
	}
	return now, after
}

func hasConfChange(ents []raftpb.Entry) bool {
	for _, e := range ents {
		if e.Type == raftpb.EntryConfChange || e.Type == raftpb.EntryConfChangeV2 {
			return true
		}
	}
	return false
}

// send hands messages to the transport; a snapshot message first gets the state attached
// (taken by the applier, encoded off the loop).
func (r *raftNode) send(msgs []raftpb.Message) {
	n := r.n
	out := msgs[:0:0]
	for _, m := range msgs {
		if n.members.isRemoved(m.To) {
			continue
		}
		if m.Type == raftpb.MsgSnap {
			n.wg.Add(1) // from the Raft loop, itself in the group: safe against Stop's Wait
			go func() { defer n.wg.Done(); r.sendSnapshot(m) }()
			continue
		}
		out = append(out, m)
	}
	if len(out) > 0 {
		n.cfg.Transport.Send(out)
	}
}

func (r *raftNode) fatal(what string, err error) {
	r.n.log.Error("cannot "+what+"; stopping", "error", err)
	panic(fmt.Sprintf("node: %s: %v", what, err))
}

// snapshotSaved starts the log after a snapshot that is now durable (wal.Snapshot), keeping
// SnapshotCatchupEntries entries in memory for followers a little behind.
func (r *raftNode) snapshotSaved(res snapResult) {
	n := r.n
	r.snapping.Store(false)
	if res.err != nil {
		if !errors.Is(res.err, raft.ErrSnapOutOfDate) {
			n.log.Error("snapshot failed", "error", res.err)
		}
		return
	}
	index := res.meta.Index
	// A snapshot from the leader installed meanwhile is newer: this one must not rewrite
	// the log back to an older start.
	if cur, err := r.storage.Snapshot(); err != nil || cur.Metadata.Index != index {
		return
	}
	start := time.Now()
	if err := r.wal.Snapshot(res.meta); err != nil {
		n.log.Error("truncating the log failed", "error", err)
		return
	}
	first, _ := r.storage.FirstIndex()
	if index > n.cfg.SnapshotCatchupEntries && index-n.cfg.SnapshotCatchupEntries > first {
		r.storage.Compact(index - n.cfg.SnapshotCatchupEntries)
	}
	n.log.Info("backend flushed; log starts after it", "index", index, "took", time.Since(start).String())
}

// close flushes the backend (so the next start replays less), saves a copy of the key index
// in it (so the next start loads that instead of replaying every record), and closes it and
// the log. The log already holds everything, so a flush that does not finish (a failing
// disk, a data dir removed under us) must not keep the process from stopping: after a while
// we give up on the backend and close only the log.
func (r *raftNode) close() {
	done := make(chan error, 1)
	db := r.n.DB()
	go func() {
		if err := db.Flush(); err != nil {
			done <- err
			return
		}
		start := time.Now()
		r.n.Store().Close()
		err := r.n.Store().SaveIndex()
		if err == nil {
			r.n.log.Info("saved the key index for the next start", "took", time.Since(start).String())
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			r.n.log.Warn("flushing the backend on stop", "error", err)
		}
		r.closeAll()
	case <-time.After(10 * time.Second):
		r.n.log.Error("the backend did not flush within 10s; stopping without it (the log holds every write)")
		r.n.Store().Close()
		r.wal.Close()
	}
}

func (r *raftNode) closeAll() {
	r.n.Store().Close()
	r.n.DB().Close()
	r.wal.Close()
}

// raftLogger sends go.etcd.io/raft's log lines to slog.
type raftLogger struct{ l *slog.Logger }

func (g raftLogger) Debug(v ...any)                 {}
func (g raftLogger) Debugf(format string, v ...any) {}
func (g raftLogger) Info(v ...any)                  {}
func (g raftLogger) Infof(format string, v ...any)  {}
func (g raftLogger) Warning(v ...any)               { g.l.Warn(fmt.Sprint(v...)) }
func (g raftLogger) Warningf(f string, v ...any)    { g.l.Warn(fmt.Sprintf(f, v...)) }
func (g raftLogger) Error(v ...any)                 { g.l.Error(fmt.Sprint(v...)) }
func (g raftLogger) Errorf(f string, v ...any)      { g.l.Error(fmt.Sprintf(f, v...)) }
func (g raftLogger) Fatal(v ...any)                 { g.l.Error(fmt.Sprint(v...)); panic(fmt.Sprint(v...)) }
func (g raftLogger) Fatalf(f string, v ...any) {
	g.l.Error(fmt.Sprintf(f, v...))
	panic(fmt.Sprintf(f, v...))
}
func (g raftLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (g raftLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
