package node

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/server/pebblekv"
	"github.com/metastore/metastore/server/wal"
)

// raftNode drives go.etcd.io/raft for the node: ticks, persistence, apply, snapshots.
type raftNode struct {
	n       *Node
	node    raft.Node
	storage *raft.MemoryStorage
	wal     *wal.WAL
	// stored is the last entry whose changes the backend held when the member started:
	// replayed entries up to it are not applied to the store again.
	stored uint64

	confState raftpb.ConfState
	snapIndex uint64
	// snapping is set while a snapshot is taken in the background; snapDone reports it.
	snapping bool
	snapDone chan snapResult
}

type snapResult struct {
	meta raftpb.SnapshotMetadata
	err  error
}

func watchConfig(c Config) mvcc.WatchConfig {
	return mvcc.WatchConfig{ProgressNotifyInterval: c.WatchProgressNotifyInterval}
}

// openRaft opens the member's backend and log, recovers (the backend holds the state up to
// the entry it records as applied; the log holds what follows the last snapshot), or
// bootstraps a new single-member cluster; it sets n.store and n.db.
func openRaft(n *Node, id uint64) (*raftNode, error) {
	walDir := filepath.Join(n.cfg.DataDir, "member", "wal")
	dbDir := filepath.Join(n.cfg.DataDir, "member", "db")
	existing := wal.Exists(walDir)
	w, st, err := wal.Open(walDir)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	db, err := pebblekv.Open(dbDir)
	if err != nil {
		w.Close()
		return nil, err
	}
	s, err := core.New(n.coreConfig(db))
	if err != nil {
		w.Close()
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n.store, n.db = s, db
	n.loadAlarms()
	r := &raftNode{n: n, storage: raft.NewMemoryStorage(), wal: w, stored: s.Applied(), snapDone: make(chan snapResult, 1)}
	w.ObserveSync = n.cfg.ObserveFsync
	c := &raft.Config{
		ID:              id,
		ElectionTick:    max(int(n.cfg.ElectionTimeout/n.cfg.HeartbeatInterval), 2),
		HeartbeatTick:   1,
		Storage:         r.storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true,
		PreVote:         true,
		Logger:          raftLogger{n.log},
	}
	if !existing {
		if r.stored != 0 {
			r.closeAll()
			return nil, fmt.Errorf("data dir %s holds a store (applied up to %d) but no log", n.cfg.DataDir, r.stored)
		}
		r.node = raft.StartNode(c, []raft.Peer{{ID: id}})
		return r, nil
	}
	if st.Snapshot.Index > 0 {
		if r.stored < st.Snapshot.Index {
			r.closeAll()
			return nil, fmt.Errorf("the store (applied up to %d) is behind the log's snapshot (%d): data dir damaged", r.stored, st.Snapshot.Index)
		}
		// Raft's storage keeps only the snapshot's metadata: the state is in the backend.
		if err := r.storage.ApplySnapshot(raftpb.Snapshot{Metadata: st.Snapshot}); err != nil {
			r.closeAll()
			return nil, err
		}
		r.confState = st.Snapshot.ConfState
		r.snapIndex = st.Snapshot.Index
		n.applied.Store(st.Snapshot.Index)
		c.Applied = st.Snapshot.Index
	}
	if err := r.storage.SetHardState(st.HardState); err != nil {
		r.closeAll()
		return nil, err
	}
	if err := r.storage.Append(st.Entries); err != nil {
		r.closeAll()
		return nil, err
	}
	n.log.Info("recovered", "store-applied", r.stored, "snapshot-index", r.snapIndex, "log-entries", len(st.Entries), "commit", st.HardState.Commit)
	r.node = raft.RestartNode(c)
	return r, nil
}

// run is the Raft loop: tick, and for each Ready: persist, then apply, then advance.
func (r *raftNode) run() {
	n := r.n
	ticker := time.NewTicker(n.cfg.HeartbeatInterval)
	defer ticker.Stop()
	// A single member need not wait out an election timeout.
	go r.node.Campaign(context.Background())
	for {
		select {
		case <-n.stopc:
			r.node.Stop()
			if r.snapping {
				<-r.snapDone
			}
			return
		case <-ticker.C:
			r.node.Tick()
		case res := <-r.snapDone:
			r.snapshotSaved(res)
		case rd := <-r.node.Ready():
			if rd.SoftState != nil {
				n.leader.Store(rd.SoftState.Lead)
			}
			if !raft.IsEmptyHardState(rd.HardState) {
				n.term.Store(rd.HardState.Term)
			}
			// Durable before applied or acknowledged: one fsync covers every entry of this
			// Ready, so concurrent proposals share it (group commit).
			if err := r.wal.Save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
				n.log.Error("cannot persist the log; stopping", "error", err)
				panic(fmt.Sprintf("node: persist log: %v", err))
			}
			if !raft.IsEmptyHardState(rd.HardState) {
				r.storage.SetHardState(rd.HardState)
			}
			r.storage.Append(rd.Entries)
			for _, e := range rd.CommittedEntries {
				r.applyCommitted(e)
			}
			r.node.Advance()
			r.maybeSnapshot()
		}
	}
}

func (r *raftNode) applyCommitted(e raftpb.Entry) {
	n := r.n
	if e.Index <= n.applied.Load() {
		return // already in the snapshot the store was restored from
	}
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) > 0 && e.Index <= r.stored {
			break // replayed after a restart: the backend already holds its changes
		}
		if len(e.Data) == 0 {
			// The empty entry a new leader commits: once applied, this member has applied
			// everything committed before it and may serve.
			if n.leader.Load() == n.hdr.MemberID && e.Term == n.term.Load() {
				select {
				case <-n.readyc:
				default:
					close(n.readyc)
				}
			}
			break
		}
		n.store.SetApplied(e.Index)
		n.applyEntry(e.Data)
		if err := n.store.SaveApplied(); err != nil {
			panic(fmt.Sprintf("node: record applied index %d: %v", e.Index, err))
		}
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(e.Data); err == nil {
			r.confState = *r.node.ApplyConfChange(cc)
		}
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err == nil {
			r.confState = *r.node.ApplyConfChange(cc)
		}
	}
	n.applied.Store(e.Index)
}

// maybeSnapshot takes a snapshot every SnapshotCount applied entries. The state is already
// in the backend, so a snapshot is: record the applied index, flush the backend (in the
// background, while applies go on), then truncate the log behind that index.
func (r *raftNode) maybeSnapshot() {
	n := r.n
	applied := n.applied.Load()
	if r.snapping || applied-r.snapIndex < n.cfg.SnapshotCount {
		return
	}
	// So that the flushed backend records at least this index, even if the last entries
	// changed nothing in it.
	n.store.SetApplied(applied)
	if err := n.store.SaveApplied(); err != nil {
		n.log.Error("snapshot failed", "error", err)
		return
	}
	cs := r.confState
	r.snapping = true
	go func() {
		res := snapResult{}
		if res.err = n.db.Flush(); res.err == nil {
			var snap raftpb.Snapshot
			snap, res.err = r.storage.CreateSnapshot(applied, &cs, nil)
			res.meta = snap.Metadata
		}
		r.snapDone <- res
	}()
}

// snapshotSaved truncates the log behind a snapshot that is now durable.
func (r *raftNode) snapshotSaved(res snapResult) {
	n := r.n
	r.snapping = false
	if res.err != nil {
		n.log.Error("snapshot failed", "error", res.err)
		return
	}
	index := res.meta.Index
	first, _ := r.storage.FirstIndex()
	last, _ := r.storage.LastIndex()
	var rest []raftpb.Entry
	if last > index {
		rest, _ = r.storage.Entries(index+1, last+1, ^uint64(0))
	}
	hs, _, _ := r.storage.InitialState()
	if err := r.wal.Compact(res.meta, hs, rest); err != nil {
		n.log.Error("truncating the log failed", "error", err)
		return
	}
	if index > first {
		r.storage.Compact(index)
	}
	r.snapIndex = index
	n.log.Info("backend flushed; log truncated", "index", index)
}

// close flushes the backend (so the next start replays less) and closes it and the log. The
// log already holds everything, so a flush that does not finish (a failing disk, a data dir
// removed under us) must not keep the process from stopping: after a while we give up on
// the backend and close only the log.
func (r *raftNode) close() {
	done := make(chan error, 1)
	go func() { done <- r.n.db.Flush() }()
	select {
	case err := <-done:
		if err != nil {
			r.n.log.Warn("flushing the backend on stop", "error", err)
		}
		r.closeAll()
	case <-time.After(10 * time.Second):
		r.n.log.Error("the backend did not flush within 10s; stopping without it (the log holds every write)")
		r.n.store.Close()
		r.wal.Close()
	}
}

func (r *raftNode) closeAll() {
	r.n.store.Close()
	r.n.db.Close()
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
