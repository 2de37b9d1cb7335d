// Package pebblekv is the server's disk backend for the core: the MVCC history and metadata
// in a pebble database (github.com/cockroachdb/pebble/v2), so the data set need not fit in
// memory and a snapshot is a flush, not a copy.
//
// Durability comes from the Raft log: pebble runs without its own WAL, every batch carries
// the index of the log entry it belongs to (see mvcc.Store.SetApplied), and the node
// truncates the log only behind a Flush. After a crash pebble holds a prefix of the batches,
// and the node replays the log from the first entry it lacks.
//
// Keys (format 2):
//   - 'r' + 8-byte main + 8-byte sub revision → the record (backend.AppendRecord);
//   - 's' → DB.live, written in every batch so that opening needs no scan;
//   - 't' + the same revision → the record without its value (appendIndexValue): every
//     restart rebuilds the key index from these, reading a tenth of the bytes;
//   - 'u' + name → metadata;
//   - 'x' + 8-byte sequence number → a chunk of the saved key index (backend.IndexSaver),
//     and 'x' alone → present once all of it is written; the first commit after drops them;
//   - 'f' → the format, 2; a database of an older format is rewritten to it when opened.
//
// Everything a batch writes goes to the end of one of the spaces, and the history, by far the
// largest, comes first: a flushed file then spans only the newest records, the index records
// and the metadata, and pebble's compactions into the last level rewrite those, not the
// history. (Format 1 kept the index records by key, under 'k', and the metadata under 'm',
// between them and the history: every flushed file spanned all of it, and compacting it took
// twice the CPU; docs/benchmarks.md.)
package pebblekv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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
	// saved is whether the database holds a saved key index, which the next commit drops.
	saved atomic.Bool
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
	_ backend.Pruner       = (*DB)(nil)
	_ backend.IndexSaver   = (*DB)(nil)
)

// Open opens (or creates) the database in dir.
func Open(dir string) (*DB, error) { return OpenWith(dir, Options{}) }

// OpenScratch makes a database a command uses for a while and throws away (snapshot export
// and status), in a new directory in parent (os.MkdirTemp's pattern). release closes it and
// removes the directory. If pebble cannot write it out (a full disk) every commit would
// stall for good: the directory is removed and the process exits with status 1, saying why.
func OpenScratch(parent, pattern string) (_ *DB, release func(), err error) {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return nil, nil, err
	}
	db, err := OpenWith(dir, Options{Fatal: func(err error) {
		fmt.Fprintf(os.Stderr, "Error: cannot write the scratch database in %s: %v\n", dir, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }, nil
}

// Options tune OpenWith.
type Options struct {
	// Log, if set, is told of slow work Open does once: rewriting a database of an older
	// format (a scan of everything; about a minute for 5M revisions), and of pebble's
	// errors in the background (a failed compaction, which pebble retries).
	Log *slog.Logger
	// Fatal is called when pebble cannot write out a memtable (its data dir gone, a full
	// or failing disk): every commit would soon stall behind it for good, and the member
	// hang, unable even to stop. Nil: log and panic, as etcd does when its backend cannot
	// commit; the Raft log holds every acknowledged write for the restart.
	Fatal func(error)
}

// fatal is o.Fatal, or the default.
func (o Options) fatal(err error) {
	if o.Fatal != nil {
		o.Fatal(err)
		return
	}
	if o.Log != nil {
		o.Log.Error("cannot write the database; stopping", "error", err)
	}
	panic(fmt.Sprintf("pebblekv: cannot write the database: %v", err))
}

// events is what pebble reports that the member must hear of.
func (o Options) events() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			if o.Log != nil {
				o.Log.Error("database background error", "error", err)
			}
		},
		FlushEnd: func(info pebble.FlushInfo) {
			if flushFailed(info.Err) {
				o.fatal(info.Err)
			}
		},
	}
}

// flushFailed tells a flush that did not write its memtable from pebble's notes: a flush
// with nothing left to write ("empty table", an unexported error pebble's own tests also
// match by text), one cancelled to be retried, one at close.
func flushFailed(err error) bool {
	return err != nil && !errors.Is(err, pebble.ErrClosed) && !errors.Is(err, pebble.ErrCancelledCompaction) &&
		err.Error() != "pebble: empty table"
}

// OpenWith opens (or creates) the database in dir.
func OpenWith(dir string, o Options) (*DB, error) {
	var opened atomic.Pointer[pebble.DB] // for the pacer, once open
	po := &pebble.Options{
		DisableWAL:    true,
		Logger:        quietLogger{},
		EventListener: o.events(),
		// Every batch writes the metadata keys too, so each flushed table overlaps the ones
		// before it and compactions rewrite rather than move them. A memtable four times
		// pebble's default writes fewer, larger tables: 1M puts compacted 347 MB instead of
		// 566 MB, for 6 MiB more RSS after 1M keys (the CPU per put it saves, 0-5%, is within
		// this machine's noise).
		MemTableSize: 16 << 20,
		// Value separation (below) needs this format; an older store is moved up to it
		// when opened (pebble does it; nothing older than this pebble reads it then).
		FormatMajorVersion: pebble.FormatValueSeparation,
	}
	// Records of a KiB or more keep their value in blob files, which compactions move by
	// reference instead of rewriting: with 4 KiB values compactions were 39% of the CPU
	// under puts, and MetaStore used more CPU per put than etcd (130 against 104-129 µs).
	// Smaller records stay in the tables: separating 256-byte ones saved nothing measurable,
	// and every read of a separated value not in the record cache costs one more lookup.
	po.Experimental.EnableColumnarBlocks = func() bool { return true }
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           1 << 10,
			MaxBlobReferenceDepth: 10,
			RewriteMinimumAge:     5 * time.Minute,
			TargetGarbageRatio:    0.2, // blob files with a fifth unreferenced are rewritten
		}
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
	if err := d.ensureFormat(o.Log); err != nil {
		db.Close()
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	n, err := storedSize(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	d.live.Store(n)
	if _, c, err := db.Get(savedKey); err == nil {
		c.Close()
		d.saved.Store(true)
	} else if !errors.Is(err, pebble.ErrNotFound) {
		db.Close()
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	return d, nil
}

// paceWork and paceRest are the compactions' pace (pacer): a quarter of a core while the LSM keeps up.
const (
	paceWork = 10 * time.Millisecond
	paceRest = 30 * time.Millisecond
)

// The key spaces (see the package comment).
const (
	recordPrefix = 'r'
	indexPrefix  = 't'
	metaPrefix   = 'u'
	savedPrefix  = 'x'
	// Format 1's index records and metadata.
	oldIndexPrefix = 'k'
	oldMetaPrefix  = 'm'
)

var (
	sizeKey   = []byte{'s'}
	formatKey = []byte{'f'}
	savedKey  = []byte{savedPrefix}
)

// format is the layout this package writes (the value of formatKey).
const format = 2

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

// ensureFormat rewrites a database of an older format (format 1, or one from before index
// records) to this one, once: the metadata moved to its space, in one batch with the removal
// of the old index records; the index records written from a scan of the records, in
// batches; the format mark last. After a crash (pebble keeps a prefix of the batches) the
// next open does it again from where that prefix left it.
func (d *DB) ensureFormat(log *slog.Logger) error {
	if v, c, err := d.db.Get(formatKey); err == nil {
		f := append([]byte(nil), v...)
		c.Close()
		if len(f) == 1 && f[0] == format {
			return nil
		}
		if len(f) != 1 || f[0] > format {
			return fmt.Errorf("database format %x is not one this version knows (%d)", f, format)
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	start := time.Now()
	// A new database has no format yet either: it gets the mark, and no word in the log.
	probe, err := d.db.NewIter(nil)
	if err != nil {
		return err
	}
	empty := !probe.First()
	if err := probe.Close(); err != nil {
		return err
	}
	if empty {
		log = nil
	}
	if log != nil {
		log.Info("rewriting a database of an older format (once; about a minute per 5M revisions)")
	}
	wb := d.db.NewBatch()
	defer func() { wb.Close() }()
	old := []byte{oldMetaPrefix}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: old, UpperBound: []byte{oldMetaPrefix + 1}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := wb.Set(metaKey(string(it.Key()[1:])), it.Value(), nil); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, p := range []byte{oldMetaPrefix, oldIndexPrefix, indexPrefix, savedPrefix} {
		if err := wb.DeleteRange([]byte{p}, []byte{p + 1}, nil); err != nil {
			return err
		}
	}
	var (
		buf  []byte
		n    int
		size int64 // recorded too, so that Open need not read everything again to size it
	)
	ascend(d.db, 0, 0, func(r *backend.Record) bool {
		size += cost(r)
		buf = appendIndexValue(buf[:0], r)
		if err = wb.Set(indexKey(r.Rev), buf, nil); err != nil {
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
	if err := wb.Set(formatKey, []byte{format}, nil); err != nil {
		return err
	}
	if err := wb.Commit(pebble.NoSync); err != nil {
		return err
	}
	if err := d.db.Flush(); err != nil {
		return err
	}
	if log != nil {
		log.Info("database rewritten", "records", n, "took", time.Since(start).String())
	}
	return nil
}

// indexKey is the key of the index record of the record at rev.
func indexKey(rev kv.Revision) []byte { return appendRevKey(make([]byte, 0, 17), indexPrefix, rev) }

// appendIndexValue appends the index record of r: its tombstone flag, key, create revision,
// version and lease (its mod revision is the revision in the key).
func appendIndexValue(b []byte, r *backend.Record) []byte {
	kind := byte('p')
	if r.Tombstone {
		kind = 't'
	}
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(r.KV.Key)))
	b = append(b, r.KV.Key...)
	b = binary.AppendVarint(b, r.KV.CreateRevision)
	b = binary.AppendVarint(b, r.KV.Version)
	return binary.AppendVarint(b, r.KV.Lease)
}

// decodeIndex decodes an index record into rec, its key pointing into v.
func decodeIndex(k, v []byte, rec *backend.Record) error {
	if len(k) != 17 || k[0] != indexPrefix {
		return errors.New("malformed key")
	}
	*rec = backend.Record{}
	rec.Rev.Main = int64(binary.BigEndian.Uint64(k[1:]))
	rec.Rev.Sub = int64(binary.BigEndian.Uint64(k[9:]))
	rec.KV.ModRevision = rec.Rev.Main
	if len(v) < 1 || (v[0] != 'p' && v[0] != 't') {
		return errors.New("bad kind")
	}
	rec.Tombstone = v[0] == 't'
	v = v[1:]
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return errors.New("bad key length")
	}
	rec.KV.Key = v[w : w+int(n) : w+int(n)]
	v = v[w+int(n):]
	for _, p := range []*int64{&rec.KV.CreateRevision, &rec.KV.Version, &rec.KV.Lease} {
		x, w := binary.Varint(v)
		if w <= 0 {
			return io.ErrUnexpectedEOF
		}
		*p, v = x, v[w:]
	}
	if len(v) != 0 {
		return errors.New("trailing bytes")
	}
	return nil
}

func appendRevKey(b []byte, prefix byte, rev kv.Revision) []byte {
	b = append(b, prefix)
	b = binary.BigEndian.AppendUint64(b, uint64(rev.Main))
	return binary.BigEndian.AppendUint64(b, uint64(rev.Sub))
}

func revKey(rev kv.Revision) []byte { return appendRevKey(make([]byte, 0, 17), recordPrefix, rev) }

// mainKey is where main revision main starts in the space of prefix.
func mainKey(prefix byte, main int64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), prefix), uint64(main))
}

func metaKey(name string) []byte { return appendMetaKey(nil, name) }

func appendMetaKey(b []byte, name string) []byte { return append(append(b, metaPrefix), name...) }

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
	ascendSpace(r, recordPrefix, from, to, fn)
}

// ascendSpace lists the records with from <= main < to (to <= 0: no bound) from the record
// space, or from the index space without their values.
func ascendSpace(r reader, prefix byte, from, to int64, fn func(*backend.Record) bool) {
	upper := []byte{prefix + 1}
	if to > 0 {
		upper = mainKey(prefix, to)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: mainKey(prefix, from), UpperBound: upper})
	if err != nil {
		panic(fmt.Sprintf("pebblekv: iterator: %v", err))
	}
	defer it.Close()
	var rec backend.Record
	for ok := it.First(); ok; ok = it.Next() {
		if prefix == indexPrefix {
			err = decodeIndex(it.Key(), it.Value(), &rec)
		} else {
			rec, err = backend.DecodeRecord(it.Value(), true)
		}
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

// AscendIndex is Ascend without the values (backend.IndexScanner), from the index records.
func (d *DB) AscendIndex(from, to int64, fn func(*backend.Record) bool) {
	ascendSpace(d.db, indexPrefix, from, to, fn)
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
	var (
		key   [17]byte // pebble copies keys and values into the batch
		delta int64
	)
	buf := make([]byte, 0, recordRoom(b.Puts))
	for i := range b.Puts {
		delta += cost(&b.Puts[i])
		buf = backend.AppendRecord(buf[:0], &b.Puts[i])
		if err := wb.Set(appendRevKey(key[:0], recordPrefix, b.Puts[i].Rev), buf, nil); err != nil {
			return err
		}
		buf = appendIndexValue(buf[:0], &b.Puts[i])
		if err := wb.Set(appendRevKey(key[:0], indexPrefix, b.Puts[i].Rev), buf, nil); err != nil {
			return err
		}
	}
	for _, rev := range b.Deletes {
		// The record's size: not decoded.
		if r, ok := d.cache.get(rev); ok {
			delta -= cost(r)
		} else if v, c, err := d.db.Get(revKey(rev)); err == nil {
			_, n := rawCost(v)
			delta -= n
			c.Close()
		} else {
			continue // not held
		}
		if err := wb.Delete(appendRevKey(key[:0], recordPrefix, rev), nil); err != nil {
			return err
		}
		if err := wb.Delete(appendRevKey(key[:0], indexPrefix, rev), nil); err != nil {
			return err
		}
	}
	var mk [64]byte // room for most names
	for _, m := range b.Meta {
		k := appendMetaKey(mk[:0], m.Key)
		var err error
		if m.Value == nil {
			err = wb.Delete(k, nil)
		} else {
			err = wb.Set(k, m.Value, nil)
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

// recordRoom is the most any of puts' records takes encoded (backend.AppendRecord): the
// 17 bytes of revision and kind, and at most ten per varint.
func recordRoom(puts []backend.Record) int {
	n := 0
	for i := range puts {
		n = max(n, len(puts[i].KV.Key)+len(puts[i].KV.Value))
	}
	return n + 17 + 6*binary.MaxVarintLen64
}

// commit commits wb with the size it leaves (the size before plus delta).
func (d *DB) commit(wb *pebble.Batch, delta int64) error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	size := d.live.Load() + delta
	if err := setSize(wb, size); err != nil {
		return err
	}
	saved := d.saved.Load()
	if saved {
		// The saved key index describes the database before this batch.
		if err := dropSavedIndex(wb); err != nil {
			return err
		}
	}
	if err := wb.Commit(pebble.NoSync); err != nil {
		return err
	}
	if saved {
		d.saved.Store(false)
	}
	d.live.Store(size)
	return nil
}

// SaveIndex stores a copy of the key index (backend.IndexSaver) in batches, the mark that
// makes it count last, and flushes. Commits are held off meanwhile.
func (d *DB) SaveIndex(next func() []byte) error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	wb := d.db.NewBatch()
	defer func() { wb.Close() }()
	if err := dropSavedIndex(wb); err != nil {
		return err
	}
	for seq := uint64(0); ; seq++ {
		c := next()
		if c == nil {
			break
		}
		if err := wb.Set(binary.BigEndian.AppendUint64([]byte{savedPrefix}, seq), c, nil); err != nil {
			return err
		}
		if wb.Len() >= 4<<20 {
			if err := wb.Commit(pebble.NoSync); err != nil {
				return err
			}
			wb.Close()
			wb = d.db.NewBatch()
		}
	}
	if err := wb.Set(savedKey, nil, nil); err != nil {
		return err
	}
	if err := wb.Commit(pebble.NoSync); err != nil {
		return err
	}
	d.saved.Store(true)
	return d.db.Flush()
}

// dropSavedIndex deletes the saved key index, chunks and mark, in wb.
func dropSavedIndex(wb *pebble.Batch) error {
	return wb.DeleteRange([]byte{savedPrefix}, []byte{savedPrefix + 1}, nil)
}

// LoadIndex lists the saved key index's chunks (backend.IndexSaver).
func (d *DB) LoadIndex(fn func([]byte) error) (bool, error) {
	if !d.saved.Load() {
		return false, nil
	}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{savedPrefix, 0}, UpperBound: []byte{savedPrefix + 1}})
	if err != nil {
		return false, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Value()); err != nil {
			return true, err
		}
	}
	return true, it.Error()
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
// the records: each one's size comes from its encoding, as the scan read it, and a run of at
// least minRangeRun consecutive dropped records is one range delete in the record space and
// one in the index space.
func (d *DB) Prune(from kv.Revision, to int64, limit int, visit func(*backend.Record, []byte) bool) (next kv.Revision, done bool, err error) {
	if d.ObserveCommit != nil {
		defer d.observe(time.Now())
	}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: revKey(from), UpperBound: mainKey(recordPrefix, to)})
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
		for _, p := range []byte{recordPrefix, indexPrefix} {
			if len(run) >= minRangeRun {
				last := run[len(run)-1]
				end := kv.Revision{Main: last.Main, Sub: last.Sub + 1}
				if err := wb.DeleteRange(appendRevKey(nil, p, run[0]), appendRevKey(nil, p, end), nil); err != nil {
					return err
				}
				continue
			}
			for _, rev := range run {
				if err := wb.Delete(appendRevKey(nil, p, rev), nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	next, done = from, true
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		rec, err := backend.DecodeRecordView(v) // the compaction hash reads the value too
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
