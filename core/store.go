package core

import (
	"time"

	"sync"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/core/lease"
	"github.com/metastore/metastore/core/mvcc"
)

// IDGenerator picks IDs for leases granted with ID 0.
type IDGenerator interface {
	Next() int64
}

// Config configures a Store. The zero value works: in-memory backend, wall clock, etcd's
// defaults.
type Config struct {
	// Backend stores the history; default backend.NewMemory(). A backend holding data is
	// recovered.
	Backend backend.Backend
	// Clock drives lease expiry and watch progress notifications; default the wall clock.
	Clock clock.Clock
	// IDs picks lease IDs; default an etcd-style generator seeded from Clock.
	IDs IDGenerator
	// MaxTxnOps is the most operations a txn may have per branch; default 128.
	MaxTxnOps int
	// MinLeaseTTL is the smallest lease TTL in seconds; default 2.
	MinLeaseTTL int64
	// Watch tunes the watch hub.
	Watch mvcc.WatchConfig
	// PaceClock is mvcc.Config's: the clock background work is paced on; default the wall clock.
	PaceClock clock.Clock
	// CompactionBatchLimit and CompactionSleepInterval pace the background deletes of a
	// compaction (mvcc.Config); zero takes etcd's defaults.
	CompactionBatchLimit    int
	CompactionSleepInterval time.Duration
	// OnCompactionError is mvcc.Config's: told when a compaction's background deletes fail.
	OnCompactionError func(error)
}

func (c Config) withDefaults() Config {
	if c.Backend == nil {
		c.Backend = backend.NewMemory()
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.IDs == nil {
		c.IDs = idgen.New(0, c.Clock.Now())
	}
	if c.MaxTxnOps <= 0 {
		c.MaxTxnOps = 128
	}
	if c.MinLeaseTTL <= 0 {
		c.MinLeaseTTL = 2
	}
	return c
}

// Store is etcd's KV, Lease and Watch state machine.
type Store struct {
	cfg    Config
	kv     *mvcc.Store
	lessor *lease.Lessor
	// wmu serialises write operations, so that each is atomic with the lease checks and
	// lease bookkeeping around its MVCC transaction. Taken before the MVCC store's lock.
	wmu sync.Mutex
	// authMu guards auth, which checks read while changes are applied (taken after wmu).
	authMu sync.RWMutex
	auth   *auth.State
}

// New opens a store, recovering whatever cfg.Backend holds, leases included (with the time
// they had left if CheckpointLeases ran before the stop, else with a fresh TTL, as etcd).
func New(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	entries, checkpointed := storedLeases(cfg.Backend)
	s, err := newWithLeases(cfg, entries)
	if err != nil || !checkpointed {
		return s, err
	}
	// The countdowns resume from the checkpoint; clear it, so that a crash later (after
	// keep-alives it does not know of) grants fresh TTLs rather than stale remainders.
	if err := s.saveLeases(entries, false); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the store's goroutines. The backend is the caller's to close.
func (s *Store) Close() { s.kv.Close() }

// SaveIndex stores a copy of the key index for the next open, if the backend keeps one (see
// mvcc.Store.SaveIndex): the last write before the backend is closed, after Close.
func (s *Store) SaveIndex() error { return s.kv.SaveIndex() }

// BumpRevision raises the revision by n and compacts at it (a restore's --bump-revision and
// --mark-compacted; the store must not be in use).
func (s *Store) BumpRevision(n int64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.kv.BumpAndCompact(n)
}

// Rev returns the current revision.
func (s *Store) Rev() int64 { return s.kv.Rev() }

// CompactRev returns the compact revision, -1 if never compacted.
func (s *Store) CompactRev() int64 { return s.kv.CompactRev() }

// MVCC exposes the underlying MVCC store, for layers that need its transactions directly.
func (s *Store) MVCC() *mvcc.Store { return s.kv }

// Clock returns the store's clock.
func (s *Store) Clock() clock.Clock { return s.cfg.Clock }

// Compact discards history below r.Revision (see mvcc.Store.Compact): reads and watches
// below it fail once Compact returns, and the backend's deletes follow in the background.
// With r.Physical the response's PhysicalDone tells when they are done; Compact itself never
// waits for them (it runs on the apply path).
func (s *Store) Compact(r *CompactionRequest) (*CompactionResponse, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.kv.Compact(r.Revision); err != nil {
		return nil, err
	}
	resp := &CompactionResponse{Header: ResponseHeader{Revision: s.kv.Rev()}}
	if r.Physical {
		resp.PhysicalDone = s.kv.PhysicalDone(r.Revision)
	}
	return resp, nil
}

// HashKV hashes the key history up to rev (0 = current).
func (s *Store) HashKV(rev int64) (*HashKVResponse, error) {
	h, err := s.kv.HashKV(rev)
	if err != nil {
		return nil, err
	}
	return &HashKVResponse{
		Header:          ResponseHeader{Revision: h.Revision},
		Hash:            h.Hash,
		CompactRevision: h.CompactRevision,
		HashRevision:    h.HashRevision,
	}, nil
}

// CompactionHashes returns the hashes taken at the last compactions, newest first, each as
// HashKV answers at its revision (without a header).
func (s *Store) CompactionHashes() []HashKVResponse {
	hs := s.kv.CompactionHashes()
	out := make([]HashKVResponse, len(hs))
	for i, h := range hs {
		out[i] = HashKVResponse{Hash: h.Hash, CompactRevision: h.CompactRevision, HashRevision: h.HashRevision}
	}
	return out
}

// SetApplied, Applied and SaveApplied record which log entry the store has applied,
// atomically with its changes; see mvcc.Store.SetApplied.
func (s *Store) SetApplied(index uint64) { s.kv.SetApplied(index) }

func (s *Store) Applied() uint64 { return s.kv.Applied() }

func (s *Store) SaveApplied() error { return s.kv.SaveApplied() }

// CommitMeta writes metadata entries to the backend (with the applied index), for state
// the server keeps beside the store, such as alarms.
func (s *Store) CommitMeta(entries ...backend.MetaEntry) error { return s.kv.CommitMeta(entries...) }
