// Package pebblekv is the server's disk backend for the core: the MVCC history and metadata
// in a pebble database (github.com/cockroachdb/pebble/v2), so the data set need not fit in
// memory and a snapshot is a flush, not a copy.
//
// Durability comes from the Raft log: pebble runs without its own WAL, every batch carries
// the index of the log entry it belongs to (see mvcc.Store.SetApplied), and the node
// truncates the log only behind a Flush. After a crash pebble holds a prefix of the batches,
// and the node replays the log from the first entry it lacks.
//
// Keys: 'r' + 8-byte main + 8-byte sub revision → the record (backend.AppendRecord);
// 'k' + the record's key (escaped, see keyIdxKey) + the revision → the record's tombstone
// flag, create revision, version and lease: every restart rebuilds the key index from these,
// a key at a time and in key order, reading a tenth of the bytes; 'm' + name → metadata;
// 's' → DB.live, written in every batch so that opening needs no scan; 'f' → present once
// the 'k' records are complete (a database from before them gets them when first opened).
package pebblekv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// DB is a pebble-backed backend.Backend.
type DB struct {
	db *pebble.DB
	// live is the key and value bytes of the records held, plus a fixed cost per record (the
	// memory backend's measure), kept up to date by Commit: quota checks read it, and unlike
	// pebble's disk usage it does not lag behind flushes and compactions.
	live atomic.Int64
	// commitMu orders Commits (the apply path's and the compactor's) so that each batch
	// records the size after it.
	commitMu sync.Mutex
	// cache serves hot records without a pebble read and a decode.
	cache *recordCache
	// ObserveCommit, if set, is told how long each Commit and each Flush took (etcd's
	// backend commit: the write, then what makes it durable). Set it before use.
	ObserveCommit func(time.Duration)
}

// CacheBytes is the memory the record cache may use.
const CacheBytes = 16 << 20

// recordCost is what a record counts for in Size beyond its key and value.
const recordCost = 64

func cost(r *backend.Record) int64 { return int64(len(r.KV.Key)+len(r.KV.Value)) + recordCost }

// rawCost is cost read from a stored record's encoding, without decoding it, with the
// record's key (pointing into v).
func rawCost(v []byte) ([]byte, int64) {
	key, n, ok := backend.RecordKey(v)
	if !ok {
		panic(fmt.Sprintf("pebblekv: stored record of %d bytes does not decode", len(v)))
	}
	return key, int64(n) + recordCost
}

var (
	_ backend.Backend = (*DB)(nil)
	_ backend.Cloner  = (*DB)(nil)
	_ backend.Sizer   = (*DB)(nil)

	_ backend.IndexScanner = (*DB)(nil)
	_ backend.KeyScanner   = (*DB)(nil)
	_ backend.Pruner       = (*DB)(nil)
)

// Open opens (or creates) the database in dir.
func Open(dir string) (*DB, error) { return OpenWith(dir, Options{}) }

// Options tune OpenWith.
type Options struct {
	// Log, if set, is told of slow work Open does once: giving a database from before the
	// 'k' records its records (a scan of everything; about a minute for 5M revisions).
	Log *slog.Logger
}

// OpenWith opens (or creates) the database in dir.
func OpenWith(dir string, o Options) (*DB, error) {
	var opened atomic.Pointer[pebble.DB] // for the pacer, once open
	po := &pebble.Options{
		DisableWAL: true,
		Logger:     quietLogger{},
	}
	// L0 half way to the stop-writes threshold: compactions run unpaced until it drains.
	const urgentSublevels = 6
	po.Experimental.CompactionScheduler = newPacer(paceWork, paceRest, func() bool {
		db := opened.Load()
		return db == nil || db.Metrics().Levels[0].Sublevels >= urgentSublevels
	})
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	opened.Store(db)
	d := &DB{db: db, cache: newRecordCache(CacheBytes)}
	if err := d.ensureIndexRecords(o.Log); err != nil {
		db.Close()
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	n, err := storedSize(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	d.live.Store(n)
	return d, nil
}

// paceWork and paceRest are the compactions' pace (pacer): a quarter of a core while the LSM keeps up.
const (
	paceWork = 10 * time.Millisecond
	paceRest = 30 * time.Millisecond
)

var (
	sizeKey   = []byte{'s'}
	formatKey = []byte{'f'}
)

// storedSize reads the size the last batch recorded. A database written before batches
// recorded it is sized by a scan of the records' encodings (not decoded).
func storedSize(db *pebble.DB) (int64, error) {
	v, c, err := db.Get(sizeKey)
	if err == nil {
		defer c.Close()
		if len(v) != 8 {
			return 0, fmt.Errorf("size record of %d bytes", len(v))
		}
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return 0, err
	}
	return scanSize(db)
}

func scanSize(db *pebble.DB) (int64, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{'r'}, UpperBound: []byte{'r' + 1}})
	if err != nil {
		return 0, err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		_, c := rawCost(it.Value())
		n += c
	}
	return n, it.Close()
}

// ensureIndexRecords writes the 'k' records of a database from before they existed: once,
// in batches, the mark last (a crash before the mark is flushed makes the next open redo it
// from the start).
func (d *DB) ensureIndexRecords(log *slog.Logger) error {
	if _, c, err := d.db.Get(formatKey); err == nil {
		c.Close()
		return nil
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	start := time.Now()
	if log != nil {
		log.Info("writing the key index records of a database from an older version (once; about a minute per 5M revisions)")
	}
	wb := d.db.NewBatch()
	defer func() { wb.Close() }()
	if err := wb.DeleteRange([]byte{'k'}, []byte{'k' + 1}, nil); err != nil {
		return err
	}
	var (
		buf  []byte
		n    int
		size int64 // recorded too, so that Open need not read everything again to size it
		err  error
	)
	ascend(d.db, 0, 0, func(r *backend.Record) bool {
		size += cost(r)
		buf = appendKeyIdxValue(buf[:0], r)
		if err = wb.Set(keyIdxKey(r.KV.Key, r.Rev), buf, nil); err != nil {
			return false
		}
		if n++; n%10000 == 0 {
			if err = wb.Commit(pebble.NoSync); err != nil {
				return false
			}
			wb.Close()
			wb = d.db.NewBatch()
		}
		return true
	})
	if err != nil {
		return err
	}
	if err := setSize(wb, size); err != nil {
		return err
	}
	if err := wb.Set(formatKey, []byte{1}, nil); err != nil {
		return err
	}
	if err := wb.Commit(pebble.NoSync); err != nil {
		return err
	}
	if err := d.db.Flush(); err != nil {
		return err
	}
	if log != nil {
		log.Info("key index records written", "records", n, "took", time.Since(start))
	}
	return nil
}

// keyIdxKey is the 'k' key of the record of key at rev. The key is escaped so that its end
// is unambiguous and the order is the keys' byte order: 0x00 is written 0x00 0xff, and 0x00
// 0x01 ends it.
func keyIdxKey(key []byte, rev kv.Revision) []byte {
	k := make([]byte, 0, 1+len(key)+2+16)
	k = append(k, 'k')
	for _, c := range key {
		k = append(k, c)
		if c == 0 {
			k = append(k, 0xff)
		}
	}
	k = append(k, 0, 1)
	k = binary.BigEndian.AppendUint64(k, uint64(rev.Main))
	return binary.BigEndian.AppendUint64(k, uint64(rev.Sub))
}

// appendKeyIdxValue appends the 'k' value of r.
func appendKeyIdxValue(b []byte, r *backend.Record) []byte {
	kind := byte('p')
	if r.Tombstone {
		kind = 't'
	}
	b = append(b, kind)
	b = binary.AppendVarint(b, r.KV.CreateRevision)
	b = binary.AppendVarint(b, r.KV.Version)
	return binary.AppendVarint(b, r.KV.Lease)
}

// decodeKeyIdx decodes a 'k' record into rec, the key unescaped into scratch (or pointing into
// k when it has nothing escaped).
func decodeKeyIdx(k, v []byte, rec *backend.Record, scratch []byte) ([]byte, error) {
	if len(k) == 0 {
		return scratch, errors.New("empty key")
	}
	k = k[1:]
	end := -1
	escaped := false
	for i := 0; i+1 < len(k); i++ {
		if k[i] != 0 {
			continue
		}
		if k[i+1] == 1 {
			end = i
			break
		}
		if k[i+1] != 0xff {
			return scratch, fmt.Errorf("bad escape %x", k[i+1])
		}
		escaped = true
		i++
	}
	if end < 0 || len(k) != end+2+16 {
		return scratch, errors.New("malformed key")
	}
	key := k[:end:end]
	if escaped {
		scratch = scratch[:0]
		for i := 0; i < end; i++ {
			scratch = append(scratch, k[i])
			if k[i] == 0 {
				i++
			}
		}
		key = scratch
	}
	*rec = backend.Record{}
	rec.KV.Key = key
	rec.Rev.Main = int64(binary.BigEndian.Uint64(k[end+2:]))
	rec.Rev.Sub = int64(binary.BigEndian.Uint64(k[end+10:]))
	rec.KV.ModRevision = rec.Rev.Main
	if len(v) < 1 || (v[0] != 'p' && v[0] != 't') {
		return scratch, errors.New("bad kind")
	}
	rec.Tombstone = v[0] == 't'
	v = v[1:]
	for _, p := range []*int64{&rec.KV.CreateRevision, &rec.KV.Version, &rec.KV.Lease} {
		x, w := binary.Varint(v)
		if w <= 0 {
			return scratch, io.ErrUnexpectedEOF
		}
		*p, v = x, v[w:]
	}
	if len(v) != 0 {
		return scratch, errors.New("trailing bytes")
	}
	return scratch, nil
}

func revKey(rev kv.Revision) []byte {
	k := make([]byte, 17)
	k[0] = 'r'
	binary.BigEndian.PutUint64(k[1:], uint64(rev.Main))
	binary.BigEndian.PutUint64(k[9:], uint64(rev.Sub))
	return k
}

func mainKey(main int64) []byte {
	k := make([]byte, 9)
	k[0] = 'r'
	binary.BigEndian.PutUint64(k[1:], uint64(main))
	return k
}

func metaKey(name string) []byte { return append([]byte{'m'}, name...) }

// reader is what a DB and a snapshot share.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func get(r reader, rev kv.Revision) (*backend.Record, bool) {
	v, c, err := r.Get(revKey(rev))
	if err != nil {
		return nil, false
	}
	defer c.Close()
	rec, err := backend.DecodeRecord(v, true)
	if err != nil {
		panic(fmt.Sprintf("pebblekv: record %v does not decode: %v", rev, err))
	}
	return &rec, true
}

func ascend(r reader, from, to int64, fn func(*backend.Record) bool) {
	ascendRecords(r, from, to, true, fn)
}

func ascendRecords(r reader, from, to int64, withValue bool, fn func(*backend.Record) bool) {
	upper := []byte{'r' + 1}
	if to > 0 {
		upper = mainKey(to)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: mainKey(from), UpperBound: upper})
	if err != nil {
		panic(fmt.Sprintf("pebblekv: iterator: %v", err))
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		rec, err := backend.DecodeRecord(it.Value(), withValue)
		if err != nil {
			panic(fmt.Sprintf("pebblekv: record at %x does not decode: %v", it.Key(), err))
		}
		if !fn(&rec) {
			return
		}
	}
}

func ascendMeta(r reader, prefix string, fn func(string, []byte) bool) {
	lower := metaKey(prefix)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: kv.PrefixEnd(lower)})
	if err != nil {
		panic(fmt.Sprintf("pebblekv: iterator: %v", err))
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[1:]), append([]byte(nil), it.Value()...)) {
			return
		}
	}
}

func (d *DB) Get(rev kv.Revision) (*backend.Record, bool) {
	if r, ok := d.cache.get(rev); ok {
		return r, true
	}
	r, ok := get(d.db, rev)
	if ok {
		d.cache.add(r)
	}
	return r, ok
}

func (d *DB) Ascend(from, to int64, fn func(*backend.Record) bool) { ascend(d.db, from, to, fn) }

// AscendIndex is Ascend without the values (backend.IndexScanner).
func (d *DB) AscendIndex(from, to int64, fn func(*backend.Record) bool) {
	ascendRecords(d.db, from, to, false, fn)
}

// AscendByKey lists the records by key from the 'k' records (backend.KeyScanner).
func (d *DB) AscendByKey(fn func(*backend.Record) bool) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'k'}, UpperBound: []byte{'k' + 1}})
	if err != nil {
		panic(fmt.Sprintf("pebblekv: iterator: %v", err))
	}
	defer it.Close()
	var rec backend.Record
	var scratch []byte
	for ok := it.First(); ok; ok = it.Next() {
		if scratch, err = decodeKeyIdx(it.Key(), it.Value(), &rec, scratch); err != nil {
			panic(fmt.Sprintf("pebblekv: index record at %x does not decode: %v", it.Key(), err))
		}
		if !fn(&rec) {
			return
		}
	}
}

func (d *DB) AscendMeta(prefix string, fn func(string, []byte) bool) { ascendMeta(d.db, prefix, fn) }

func (d *DB) Meta(key string) ([]byte, bool) {
	v, c, err := d.db.Get(metaKey(key))
	if err != nil {
		return nil, false
	}
	defer c.Close()
	return append([]byte(nil), v...), true
}

// Commit applies the batch to pebble's memtable; it is durable once flushed (Flush), and
// until then the Raft log holds it.
func (d *DB) Commit(b *backend.Batch) error {
	if d.ObserveCommit != nil {
		defer d.observe(time.Now())
	}
	wb := d.db.NewBatch()
	defer wb.Close()
	var buf []byte
	var delta int64
	for i := range b.Puts {
		delta += cost(&b.Puts[i])
		buf = backend.AppendRecord(buf[:0], &b.Puts[i])
		if err := wb.Set(revKey(b.Puts[i].Rev), buf, nil); err != nil {
			return err
		}
		buf = appendKeyIdxValue(buf[:0], &b.Puts[i])
		if err := wb.Set(keyIdxKey(b.Puts[i].KV.Key, b.Puts[i].Rev), buf, nil); err != nil {
			return err
		}
	}
	for _, rev := range b.Deletes {
		// The record's size and key, for the size and its 'k' record: not decoded, as a
		// compaction deletes millions.
		var kk []byte
		if r, ok := d.cache.get(rev); ok {
			delta -= cost(r)
			kk = keyIdxKey(r.KV.Key, rev)
		} else if v, c, err := d.db.Get(revKey(rev)); err == nil {
			key, n := rawCost(v)
			delta -= n
			kk = keyIdxKey(key, rev) // a copy: v is released below
			c.Close()
		} else {
			continue // not held
		}
		if err := wb.Delete(revKey(rev), nil); err != nil {
			return err
		}
		if err := wb.Delete(kk, nil); err != nil {
			return err
		}
	}
	for _, m := range b.Meta {
		var err error
		if m.Value == nil {
			err = wb.Delete(metaKey(m.Key), nil)
		} else {
			err = wb.Set(metaKey(m.Key), m.Value, nil)
		}
		if err != nil {
			return err
		}
	}
	if err := d.commit(wb, delta); err != nil {
		return err
	}
	for _, rev := range b.Deletes {
		d.cache.remove(rev)
	}
	for i := range b.Puts {
		r := b.Puts[i] // copy: the batch is reused by the caller
		d.cache.add(&r)
	}
	return nil
}

// commit commits wb with the size it leaves (the size before plus delta).
func (d *DB) commit(wb *pebble.Batch, delta int64) error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	size := d.live.Load() + delta
	if err := setSize(wb, size); err != nil {
		return err
	}
	if err := wb.Commit(pebble.NoSync); err != nil {
		return err
	}
	d.live.Store(size)
	return nil
}

// setSize records size in wb (the 's' key, read back by storedSize).
func setSize(wb *pebble.Batch, size int64) error {
	var sv [8]byte
	binary.BigEndian.PutUint64(sv[:], uint64(size))
	return wb.Set(sizeKey, sv[:], nil)
}

// minRangeRun is the shortest run of consecutive dropped records that Prune deletes as one
// range: shorter runs are point deletes, as a range tombstone costs every read that crosses
// it more until pebble compacts it away.
const minRangeRun = 4

// Prune deletes a batch of a compaction's dropped records (backend.Pruner) from one scan of
// the 'r' records: each one's key and size come from its encoding, as the scan read it; its
// 'k' record is a point delete, and a run of at least minRangeRun consecutive dropped
// records is one range delete in the 'r' space.
func (d *DB) Prune(from kv.Revision, to int64, limit int, visit func(*backend.Record, []byte) bool) (next kv.Revision, done bool, err error) {
	if d.ObserveCommit != nil {
		defer d.observe(time.Now())
	}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: revKey(from), UpperBound: mainKey(to)})
	if err != nil {
		return from, false, err
	}
	defer it.Close()
	wb := d.db.NewBatch()
	defer wb.Close()
	var (
		delta   int64
		dropped []kv.Revision // for the cache, after the commit
		runFrom int           // dropped[runFrom:] is the current run of consecutive dropped records
	)
	endRun := func() error {
		run := dropped[runFrom:]
		runFrom = len(dropped)
		if len(run) >= minRangeRun {
			last := run[len(run)-1]
			return wb.DeleteRange(revKey(run[0]), revKey(kv.Revision{Main: last.Main, Sub: last.Sub + 1}), nil)
		}
		for _, rev := range run {
			if err := wb.Delete(revKey(rev), nil); err != nil {
				return err
			}
		}
		return nil
	}
	next, done = from, true
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		rec, err := backend.DecodeRecord(v, false)
		if err != nil {
			return from, false, fmt.Errorf("pebblekv: record at %x does not decode: %v", it.Key(), err)
		}
		next = kv.Revision{Main: rec.Rev.Main, Sub: rec.Rev.Sub + 1}
		if !visit(&rec, v) {
			if err := endRun(); err != nil {
				return from, false, err
			}
			continue
		}
		_, n := rawCost(v)
		delta -= n
		if err := wb.Delete(keyIdxKey(rec.KV.Key, rec.Rev), nil); err != nil {
			return from, false, err
		}
		dropped = append(dropped, rec.Rev)
		if len(dropped) >= limit {
			done = false
			break
		}
	}
	if err := it.Error(); err != nil {
		return from, false, err
	}
	if len(dropped) == 0 {
		return next, done, nil
	}
	if err := endRun(); err != nil {
		return from, false, err
	}
	if err := d.commit(wb, delta); err != nil {
		return from, false, err
	}
	d.cache.remove(dropped...)
	return next, done, nil
}

// Len counts the records (a scan; used only to check that a backend is empty).
func (d *DB) Len() int {
	n := 0
	d.Ascend(0, 0, func(*backend.Record) bool { n++; return true })
	return n
}

// Size is the bytes of history held (see DB.live).
func (d *DB) Size() int64 { return d.live.Load() }

// DiskUsage is what the database takes on disk.
func (d *DB) DiskUsage() int64 { return int64(d.db.Metrics().DiskSpaceUsage()) }

// Flush makes everything committed so far durable.
func (d *DB) Flush() error {
	if d.ObserveCommit != nil {
		defer d.observe(time.Now())
	}
	return d.db.Flush()
}

func (d *DB) observe(start time.Time) { d.ObserveCommit(time.Since(start)) }

// Compact rewrites the whole key space, dropping deleted data: etcd's defragment.
func (d *DB) Compact() error {
	return d.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true)
}

func (d *DB) Close() error { return d.db.Close() }

// Clone returns a read-only point-in-time view (a pebble snapshot); close it when done.
func (d *DB) Clone() backend.Backend { return &snapshot{s: d.db.NewSnapshot()} }

type snapshot struct{ s *pebble.Snapshot }

var errReadOnly = errors.New("pebblekv: snapshot is read-only")

func (s *snapshot) Get(rev kv.Revision) (*backend.Record, bool)          { return get(s.s, rev) }
func (s *snapshot) Ascend(from, to int64, fn func(*backend.Record) bool) { ascend(s.s, from, to, fn) }
func (s *snapshot) AscendMeta(p string, fn func(string, []byte) bool)    { ascendMeta(s.s, p, fn) }
func (s *snapshot) Commit(*backend.Batch) error                          { return errReadOnly }
func (s *snapshot) Close() error                                         { return s.s.Close() }
func (s *snapshot) Len() int {
	n := 0
	s.Ascend(0, 0, func(*backend.Record) bool { n++; return true })
	return n
}
func (s *snapshot) Meta(key string) ([]byte, bool) {
	v, c, err := s.s.Get(metaKey(key))
	if err != nil {
		return nil, false
	}
	defer c.Close()
	return append([]byte(nil), v...), true
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
