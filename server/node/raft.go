package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/server/wal"
)

// raftNode drives go.etcd.io/raft for the node: ticks, persistence, apply, snapshots.
type raftNode struct {
	n       *Node
	node    raft.Node
	storage *raft.MemoryStorage
	wal     *wal.WAL
	snapDir string

	confState raftpb.ConfState
	snapIndex uint64
	// snapping is set while a snapshot is written in the background; snapDone reports it.
	snapping bool
	snapDone chan snapResult
	// logBytes counts the entry bytes logged since the last snapshot, snapBytes that
	// snapshot's size: see maybeSnapshot.
	logBytes, snapBytes int64
}

type snapResult struct {
	meta raftpb.SnapshotMetadata
	size int64
	err  error
}

func watchConfig(c Config) mvcc.WatchConfig {
	return mvcc.WatchConfig{ProgressNotifyInterval: c.WatchProgressNotifyInterval}
}

// openRaft recovers the member from its data dir (snapshot, then the log after it) or
// bootstraps a new single-member cluster, and sets n.store.
func openRaft(n *Node, id uint64) (*raftNode, error) {
	walDir := filepath.Join(n.cfg.DataDir, "member", "wal")
	snapDir := filepath.Join(n.cfg.DataDir, "member", "snap")
	existing := wal.Exists(walDir)
	w, st, err := wal.Open(walDir)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	w.ObserveSync = n.cfg.ObserveFsync
	r := &raftNode{n: n, storage: raft.NewMemoryStorage(), wal: w, snapDir: snapDir, snapDone: make(chan snapResult, 1)}
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
		s, err := core.New(n.coreConfig())
		if err != nil {
			w.Close()
			return nil, err
		}
		n.store = s
		r.node = raft.StartNode(c, []raft.Peer{{ID: id}})
		return r, nil
	}
	snap, err := wal.LoadSnapshot(snapDir)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("load snapshot: %w", err)
	}
	if snap != nil {
		al, s, err := decodeSnapshot(snap.Data, n.coreConfig())
		snap.Close()
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("restore snapshot %d: %w", snap.Metadata.Index, err)
		}
		n.store = s
		for _, a := range al {
			n.alarms.apply(a)
		}
		// Raft's storage keeps only the snapshot's metadata: the data lives in the file.
		if err := r.storage.ApplySnapshot(raftpb.Snapshot{Metadata: snap.Metadata}); err != nil {
			return nil, err
		}
		r.confState = snap.Metadata.ConfState
		r.snapIndex = snap.Metadata.Index
		n.applied.Store(snap.Metadata.Index)
		c.Applied = snap.Metadata.Index
	} else {
		s, err := core.New(n.coreConfig())
		if err != nil {
			w.Close()
			return nil, err
		}
		n.store = s
	}
	ents := st.Entries
	for len(ents) > 0 && ents[0].Index <= r.snapIndex {
		ents = ents[1:]
	}
	if err := r.storage.SetHardState(st.HardState); err != nil {
		return nil, err
	}
	if err := r.storage.Append(ents); err != nil {
		return nil, err
	}
	n.log.Info("recovered", "snapshot-index", r.snapIndex, "log-entries", len(ents), "commit", st.HardState.Commit)
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
			for i := range rd.Entries {
				r.logBytes += int64(len(rd.Entries[i].Data))
			}
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
		n.applyEntry(e.Data)
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

// maybeSnapshot starts a snapshot every SnapshotCount applied entries. The state is
// captured here, between two applies, in O(1); it is serialised and saved by a goroutine
// while the loop goes on applying, and the log is truncated when it is done.
//
// Unlike etcd's (whose state is already on disk), our snapshot writes the whole state, so
// it also waits until the log since the last one holds at least a quarter of that
// snapshot's size: snapshot writes then cost at most four times the log's.
func (r *raftNode) maybeSnapshot() {
	n := r.n
	applied := n.applied.Load()
	if r.snapping || applied-r.snapIndex < n.cfg.SnapshotCount || r.logBytes < r.snapBytes/4 {
		return
	}
	view := n.store.Snapshot()
	al := n.alarms.list(pb.AlarmType_NONE)
	cs := r.confState
	r.snapping = true
	go func() {
		res := snapResult{}
		// Raft's storage gets only the metadata; the data streams to the file.
		snap, err := r.storage.CreateSnapshot(applied, &cs, nil)
		if err == nil {
			res.meta = snap.Metadata
			res.size, err = wal.SaveSnapshot(r.snapDir, snap.Metadata, func(w io.Writer) error {
				return encodeSnapshot(w, al, view)
			})
		}
		res.err = err
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
	r.snapBytes, r.logBytes = res.size, 0
	n.log.Info("snapshot saved; log truncated", "index", index, "bytes", res.size)
}

func (r *raftNode) close() {
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
