package node

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core/backend"
)

// Storage is where a member keeps what outlives its process: the Raft log and the database
// the core writes through. The server's is a data dir on disk (package server/disk); the
// in-tab cluster's and tests' is memory (NewMemoryStorage), kept across a member's restarts
// as a disk would be. The member code is the same over both.
//
// A Node owns its Storage from New on and releases it when it stops (or when New fails).
type Storage interface {
	// OpenLog opens the Raft log and returns what it holds.
	OpenLog() (Log, LogState, error)
	// OpenDB opens the database in use (removing any a crash left half-made).
	OpenDB() (DB, error)
	// NewDB makes an empty database to install a snapshot from the leader into (index: the
	// snapshot's). It is not the one in use until UseDB.
	NewDB(index uint64) (DB, error)
	// UseDB makes db (from NewDB, now complete and flushed) the database OpenDB opens from
	// now on, durably. discard removes the database it replaces; the caller calls it once
	// nothing reads that one any more (after closing it).
	UseDB(db DB) (discard func(), err error)
	// DropDB closes db (from NewDB, never used) and removes it.
	DropDB(db DB)
	// String names the storage in errors ("data dir /var/lib/metastore").
	String() string
	// Release lets go of the storage (a data dir's lock).
	Release()
}

// Log is a member's Raft log (server/wal on disk).
type Log interface {
	// Save appends the entries (an entry at an index already held replaces it and what
	// follows) and, if it is not empty, the hard state; with sync they are durable when it
	// returns.
	Save(hs raftpb.HardState, ents []raftpb.Entry, sync bool) error
	// Snapshot records that the log may start after meta (the entries after it stay).
	Snapshot(meta raftpb.SnapshotMetadata) error
	// Compact makes the log start after meta at once and durably (a snapshot from the
	// leader was installed), holding hs and the entries of ents after meta.Index.
	Compact(meta raftpb.SnapshotMetadata, hs raftpb.HardState, ents []raftpb.Entry) error
	Close() error
}

// LogState is what a log held when opened: the snapshot it starts after, the last hard
// state and the entries after the snapshot.
type LogState struct {
	Snapshot  raftpb.SnapshotMetadata
	HardState raftpb.HardState
	Entries   []raftpb.Entry
}

// DB is the database a member's core writes through: a backend that the member flushes
// before truncating its log (what the log no longer holds must be in it), and defragments.
type DB interface {
	backend.Backend
	// Flush makes every commit so far durable.
	Flush() error
	// Compact reclaims the space of deleted records (etcd's defrag).
	Compact() error
	// DiskUsage is the bytes the database takes in its storage.
	DiskUsage() int64
}

// memoryStorage keeps a member's log and database in memory: what a member's restart keeps
// is what the Storage value holds, so a member stopped and started again on the same one
// recovers as from a disk that lost nothing.
type memoryStorage struct {
	log memoryLog
	db  *memoryDB
}

// NewMemoryStorage returns an empty storage in memory.
func NewMemoryStorage() Storage { return &memoryStorage{} }

func (s *memoryStorage) OpenLog() (Log, LogState, error) {
	l := &s.log
	st := LogState{Snapshot: l.snap, HardState: l.hs, Entries: append([]raftpb.Entry(nil), l.ents...)}
	return l, st, nil
}

func (s *memoryStorage) OpenDB() (DB, error) {
	if s.db == nil {
		s.db = newMemoryDB()
	}
	return s.db, nil
}

func (s *memoryStorage) NewDB(uint64) (DB, error) { return newMemoryDB(), nil }

func (s *memoryStorage) UseDB(db DB) (func(), error) {
	s.db = db.(*memoryDB)
	return func() {}, nil
}

func (s *memoryStorage) DropDB(db DB) { db.Close() }

func (s *memoryStorage) String() string { return "memory storage" }
func (s *memoryStorage) Release()       {}

// memoryLog is a Raft log in memory. Its methods are called from the member's Raft loop
// only; OpenLog copies what it holds.
type memoryLog struct {
	snap raftpb.SnapshotMetadata
	hs   raftpb.HardState
	ents []raftpb.Entry
}

func (l *memoryLog) Save(hs raftpb.HardState, ents []raftpb.Entry, _ bool) error {
	if len(ents) > 0 {
		first := ents[0].Index
		i := len(l.ents)
		for i > 0 && l.ents[i-1].Index >= first {
			i--
		}
		l.ents = append(l.ents[:i], ents...)
	}
	if !raft.IsEmptyHardState(hs) {
		l.hs = hs
	}
	return nil
}

func (l *memoryLog) Snapshot(meta raftpb.SnapshotMetadata) error {
	return l.Compact(meta, raftpb.HardState{}, l.ents)
}

func (l *memoryLog) Compact(meta raftpb.SnapshotMetadata, hs raftpb.HardState, ents []raftpb.Entry) error {
	l.snap = meta
	kept := l.ents[:0:0]
	for _, e := range ents {
		if e.Index > meta.Index {
			kept = append(kept, e)
		}
	}
	l.ents = kept
	if !raft.IsEmptyHardState(hs) {
		l.hs = hs
	}
	return nil
}

func (l *memoryLog) Close() error { return nil }

// memoryDB is backend.Memory as a member's database: always as durable as the storage
// holding it, nothing to defragment.
type memoryDB struct{ *backend.Memory }

func newMemoryDB() *memoryDB { return &memoryDB{backend.NewMemory()} }

func (*memoryDB) Flush() error       { return nil }
func (*memoryDB) Compact() error     { return nil }
func (d *memoryDB) DiskUsage() int64 { return d.Size() }
