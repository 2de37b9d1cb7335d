package mvcc

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
)

var (
	// ErrCompacted is returned for a revision below the compact revision.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRev is returned for a revision above the current revision.
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
)

// Metadata keys the store keeps in its backend.
const (
	metaCompactRev = "mvcc/compactRev"
	// metaApplied is the index of the last log entry applied (etcd's consistent index),
	// written in the same batch as that entry's changes.
	metaApplied = "raft/applied"
)

// LeaseTracker is told when a key gains or loses a lease, so that the lessor knows the keys of
// each lease. It is called inside write transactions, with the store locked.
type LeaseTracker interface {
	Attach(lease int64, key []byte)
	Detach(lease int64, key []byte)
}

// Config configures a Store. The zero value works.
type Config struct {
	// Backend holds the history; default a fresh backend.Memory. A backend that already holds
	// records is recovered: the index is rebuilt from it.
	Backend backend.Backend
	// Leases is notified of lease attach/detach; nil for none.
	Leases LeaseTracker
	// Clock drives the watch hub's timers; default the wall clock.
	Clock clock.Clock
	// Watch tunes the watch hub; zero values take etcd's defaults.
	Watch WatchConfig
	// PaceClock paces background work: the watch hub's retries and the pauses between a
	// compaction's batches. Default the wall clock, whatever Clock is: a page that pauses
	// its lease clock must not stop watch delivery. The in-tab cluster gives its virtual
	// clock, so that nothing in a run waits on wall time and a seeded run replays.
	PaceClock clock.Clock
	// CompactionBatchLimit is how many versions the background compactor deletes per commit
	// (etcd's --compaction-batch-limit); 0 means DefaultCompactionBatchLimit.
	CompactionBatchLimit int
	// CompactionSleepInterval is its pause between commits (etcd's
	// --compaction-sleep-interval); 0 means DefaultCompactionSleepInterval.
	CompactionSleepInterval time.Duration
	// OnCompactionError, if set, is called (from the compactor's goroutine) when a batch of
	// background deletes fails to commit; the compactor then stops, and the next open
	// resumes the compaction. The server treats it as the disk failure it is.
	OnCompactionError func(error)
}

// Store is the MVCC key-value store.
//
// It owns the watch hub's goroutine and the compactor's, stopped by Close.
type Store struct {
	// mu guards index, currentRev, compactRev and batch. Readers hold it shared for the whole
	// read transaction, writers exclusively; it is always taken before hub.mu.
	mu         sync.RWMutex
	index      *btree.BTreeG[*keyIndex]
	currentRev int64
	compactRev int64        // -1 until the first compaction
	hashes     []HashResult // hashes taken at the last compactions, oldest first
	batch      backend.Batch
	// applied is the log index being applied (SetApplied); appliedSaved the last one a
	// commit carried.
	applied, appliedSaved uint64

	liveKeys int // keys with a live version (Keys), kept as writes commit

	b      backend.Backend
	leases LeaseTracker
	hub    *hub

	// The background compactor (compact.go). cmu guards jobs; it is taken after mu, never
	// before it.
	cmu           sync.Mutex
	jobs          []*compactJob // queued and running physical compactions, oldest first
	wake          chan struct{}
	stop          chan struct{}
	closeOnce     sync.Once
	compactorDone chan struct{}
	onCompactErr  func(error)
	batchLimit    int
	sleep         time.Duration
	pace          clock.Clock
}

func keyIndexLess(a, b *keyIndex) bool { return a.key < b.key }

func newIndex() *btree.BTreeG[*keyIndex] { return btree.NewG(32, keyIndexLess) }

// New opens a store over cfg.Backend, rebuilding the index from what it holds.
func New(cfg Config) (*Store, error) {
	if cfg.Backend == nil {
		cfg.Backend = backend.NewMemory()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.PaceClock == nil {
		cfg.PaceClock = clock.Real{}
	}
	s := &Store{
		pace:          cfg.PaceClock,
		index:         newIndex(),
		currentRev:    1,
		compactRev:    -1,
		b:             cfg.Backend,
		leases:        cfg.Leases,
		wake:          make(chan struct{}, 1),
		stop:          make(chan struct{}),
		compactorDone: make(chan struct{}),
		batchLimit:    cmp.Or(max(cfg.CompactionBatchLimit, 0), DefaultCompactionBatchLimit),
		sleep:         cmp.Or(cfg.CompactionSleepInterval, DefaultCompactionSleepInterval),
		onCompactErr:  cfg.OnCompactionError,
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	s.hub = newHub(s, cfg.Clock, cfg.PaceClock, cfg.Watch)
	go s.runCompactor()
	return s, nil
}

// recover rebuilds the index and revisions from the backend.
func (s *Store) recover() error {
	if v, ok := s.b.Meta(metaCompactRev); ok {
		if len(v) != 8 {
			return fmt.Errorf("mvcc: recover: bad compact revision record (%d bytes)", len(v))
		}
		s.compactRev = int64(binary.BigEndian.Uint64(v))
	}
	if s.compactRev > s.currentRev {
		s.currentRev = s.compactRev
	}
	if v, ok := s.b.Meta(metaApplied); ok && len(v) == 8 {
		s.applied = binary.BigEndian.Uint64(v)
		s.appliedSaved = s.applied
	}
	// Below the compact revision only the versions compaction kept remain; replaying them
	// and then compacting the index again yields the index as it was. A saved index needs no
	// such pass: Compact compacts the index before it returns, and loadIndex takes only a
	// copy saved at the current compact revision.
	sv, ok := s.b.(backend.IndexSaver)
	if !ok || !s.loadIndex(sv) {
		s.recoverByRevision()
		if s.compactRev > 0 {
			s.compactIndex(s.compactRev, nil)
		}
	}
	if s.compactRev > 0 {
		// A compaction whose deletes did not all reach the backend (a crash, or a snapshot
		// taken meanwhile) is finished now. (Stores from before the compactor recorded no
		// finished revision: they get one idle pass.)
		var finished int64 = -1
		if v, ok := s.b.Meta(metaFinishedCompactRev); ok && len(v) == 8 {
			finished = int64(binary.BigEndian.Uint64(v))
		}
		if finished != s.compactRev {
			s.scheduleLocked(&compactJob{rev: s.compactRev, keep: s.keptLocked()})
		}
	}
	s.index.Ascend(func(ki *keyIndex) bool {
		if !ki.live() {
			return true
		}
		s.liveKeys++
		if s.leases != nil && ki.lease != 0 {
			s.leases.Attach(ki.lease, ki.keyBytes())
		}
		return true
	})
	return nil
}

// restoreRecord replays one record into ki, which is nil for a key not seen yet; it returns
// the key's entry, nil for a tombstone of a key with no earlier history left (compacted
// away): nothing to index.
func restoreRecord(ki *keyIndex, r *backend.Record) *keyIndex {
	if ki == nil {
		if r.Tombstone {
			return nil
		}
		ki = &keyIndex{key: string(r.KV.Key)}
	}
	if r.Tombstone {
		ki.tombstone(r.Rev)
	} else {
		ki.restore(r.Rev, r.KV.CreateRevision, r.KV.Version, r.KV.Lease)
	}
	return ki
}

// recoverBatch is how many records the scan hands a recovery worker at a time.
const recoverBatch = 4096

// recoverByRevision builds the index from the records in revision order (keys in any). A
// map finds a key's entry several times faster than the tree, and the lookups, each a cache
// miss in a map of a million keys, are most of the time: so the keys are spread over one
// worker per core by hash, each replaying its keys' records in order into a map of its own,
// and the tree is filled once, in key order, from the workers' sorted entries. The index is
// the same whatever the number of workers.
func (s *Store) recoverByRevision() {
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	// A batch of records for a worker. The scan's Record is valid only during the call, so
	// keys are copied into the batch's arena. Batches go back to free once replayed: the scan
	// of millions of records then allocates a few dozen of them, not a copy of each record
	// for the collector to trace and free.
	type batch struct {
		recs  []backend.Record
		arena []byte
	}
	type entry struct {
		key string // ki.key: sorted without a pointer chase per comparison
		ki  *keyIndex
	}
	type worker struct {
		in     chan *batch
		sorted []entry
	}
	free := make(chan *batch, 8*n)
	workers := make([]*worker, n)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{in: make(chan *batch, 4)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			byKey := make(map[string]*keyIndex)
			for b := range w.in {
				for i := range b.recs {
					r := &b.recs[i]
					prev := byKey[string(r.KV.Key)]
					if ki := restoreRecord(prev, r); prev == nil && ki != nil {
						byKey[ki.key] = ki
					}
				}
				b.recs, b.arena = b.recs[:0], b.arena[:0]
				select {
				case free <- b:
				default:
				}
			}
			w.sorted = make([]entry, 0, len(byKey))
			for k, ki := range byKey {
				ki.clip()
				w.sorted = append(w.sorted, entry{k, ki})
			}
			slices.SortFunc(w.sorted, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		}()
	}
	pending := make([]*batch, n)
	seed := maphash.MakeSeed()
	backend.AscendIndex(s.b, 0, 0, func(r *backend.Record) bool {
		if r.Rev.Main > s.currentRev {
			s.currentRev = r.Rev.Main
		}
		i := 0
		if n > 1 {
			i = int(maphash.Bytes(seed, r.KV.Key) % uint64(n))
		}
		b := pending[i]
		if b == nil {
			select {
			case b = <-free:
			default:
				b = &batch{recs: make([]backend.Record, 0, recoverBatch), arena: make([]byte, 0, recoverBatch*16)}
			}
			pending[i] = b
		}
		rec := *r
		start := len(b.arena)
		b.arena = append(b.arena, r.KV.Key...)
		rec.KV.Key = b.arena[start:len(b.arena):len(b.arena)]
		if b.recs = append(b.recs, rec); len(b.recs) == recoverBatch {
			workers[i].in <- b
			pending[i] = nil
		}
		return true
	})
	for i, w := range workers {
		if pending[i] != nil {
			w.in <- pending[i]
		}
		close(w.in)
	}
	wg.Wait()
	// Merge the workers' sorted entries (each key is in one worker's only).
	heads := make([]int, n)
	for {
		best := -1
		for i, w := range workers {
			if heads[i] < len(w.sorted) && (best < 0 || w.sorted[heads[i]].key < workers[best].sorted[heads[best]].key) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		s.index.ReplaceOrInsert(workers[best].sorted[heads[best]].ki)
		heads[best]++
	}
}

// keyIndex returns the index entry of key, nil if it has none.
func (s *Store) keyIndex(key []byte) *keyIndex {
	ki, _ := s.index.Get(pivot(key))
	return ki
}

// addKeyIndex adds an entry for key, which has none.
func (s *Store) addKeyIndex(key []byte) *keyIndex {
	ki := &keyIndex{key: string(key)}
	s.index.ReplaceOrInsert(ki)
	return ki
}

// Rev returns the current revision.
func (s *Store) Rev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.currentRev
}

// CompactRev returns the compact revision, -1 if the store was never compacted.
func (s *Store) CompactRev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.compactRev
}

// Close stops the watch hub and the compactor (an unfinished compaction resumes when the
// backend is next opened). The backend is the caller's to close.
func (s *Store) Close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.compactorDone
	s.hub.stop()
}

// Read starts a read transaction: a consistent view at the current revision until End.
func (s *Store) Read() TxnRead {
	s.mu.RLock()
	return &readTxn{s: s, rev: s.currentRev}
}

// Write starts a write transaction. Writers are serialised; End commits.
func (s *Store) Write() TxnWrite {
	s.mu.Lock()
	t := &writeTxn{readTxn: readTxn{s: s, rev: s.currentRev}, batch: &s.batch}
	t.w = t
	return t
}

// record returns the backend record at rev.
func (s *Store) record(rev kv.Revision) *backend.Record {
	r, ok := s.b.Get(rev)
	if !ok {
		// The index points only at records the backend holds.
		panic(fmt.Sprintf("mvcc: index refers to missing revision %v", rev))
	}
	return r
}

// prevKV returns the version of key visible just before revision rev, nil if none (never
// written, deleted, or compacted away). The caller holds s.mu.
func (s *Store) prevKV(key []byte, rev int64) *kv.KeyValue {
	ki := s.keyIndex(key)
	if ki == nil {
		return nil
	}
	r, ok := ki.at(rev - 1)
	if !ok {
		return nil
	}
	kv := s.record(r).KV
	return &kv
}

// Size returns the bytes of history the backend holds, if it can tell, else an estimate
// from a scan.
func (s *Store) Size() int64 {
	if sz, ok := s.b.(backend.Sizer); ok {
		return sz.Size()
	}
	var n int64
	s.b.Ascend(0, 0, func(r *backend.Record) bool {
		n += int64(len(r.KV.Key) + len(r.KV.Value))
		return true
	})
	return n
}

// Watchers returns the number of watchers, for metrics.
func (s *Store) Watchers() int { return s.hub.count() }

// Keys returns the number of live keys, for metrics: a count kept as writes commit, so that
// a scrape does not walk the index under the lock.
func (s *Store) Keys() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.liveKeys
}

// SetApplied tells the store which log entry the next changes belong to; every commit from
// then on records it, atomically with the changes (etcd's consistent index), so that after a
// restart the log is replayed from exactly the first entry the backend lacks.
func (s *Store) SetApplied(index uint64) {
	s.mu.Lock()
	s.applied = index
	s.mu.Unlock()
}

// Applied returns the last applied index recorded (SetApplied), as recovered from the backend
// on open.
func (s *Store) Applied() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// SaveApplied commits the applied index if no commit has carried it yet (the entry changed
// nothing in the store).
func (s *Store) SaveApplied() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appliedSaved == s.applied {
		return nil
	}
	defer s.batch.Reset()
	return s.commitLocked()
}

// CommitMeta writes metadata entries (nil Value deletes), with the applied index.
func (s *Store) CommitMeta(entries ...backend.MetaEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Meta = append(s.batch.Meta, entries...)
	defer s.batch.Reset()
	return s.commitLocked()
}

// commitLocked commits s.batch plus the applied index. The caller holds s.mu.
func (s *Store) commitLocked() error {
	if s.applied != s.appliedSaved {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], s.applied)
		s.batch.Meta = append(s.batch.Meta, backend.MetaEntry{Key: metaApplied, Value: v[:]})
	}
	err := s.b.Commit(&s.batch)
	if err == nil {
		s.appliedSaved = s.applied
	}
	return err
}
