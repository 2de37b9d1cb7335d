// Package backend stores the store's history: one record per revision, plus a small metadata
// space. The MVCC layer keeps only its key index in memory and reads values from here, so the
// same core runs on the in-memory backend (tests, the browser) and on a disk engine (the server).
package backend

import "github.com/metastore/metastore/core/kv"

// Record is what one change wrote: a key's new version, or a tombstone for a delete. A
// tombstone's KV holds only Key and ModRevision.
type Record struct {
	Rev       kv.Revision
	Tombstone bool
	KV        kv.KeyValue
}

// Batch is a set of changes that a Backend applies atomically, in order: puts, then deletes,
// then metadata.
type Batch struct {
	Puts    []Record
	Deletes []kv.Revision
	Meta    []MetaEntry
}

// MetaEntry sets (or, with a nil Value, removes) one metadata key.
type MetaEntry struct {
	Key   string
	Value []byte
}

// Reset empties the batch, keeping its memory for reuse.
func (b *Batch) Reset() {
	clear(b.Puts)
	b.Puts = b.Puts[:0]
	b.Deletes = b.Deletes[:0]
	clear(b.Meta)
	b.Meta = b.Meta[:0]
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool { return len(b.Puts) == 0 && len(b.Deletes) == 0 && len(b.Meta) == 0 }

// Backend is the storage the MVCC store writes through. Implementations must be safe for
// concurrent readers and for two concurrent commits: the store's writer (serialised by the
// store) and its compactor, whose batches delete only records below the compact revision,
// which no writer touches. Records handed out must not be modified by the caller.
type Backend interface {
	// Get returns the record written at rev.
	Get(rev kv.Revision) (*Record, bool)
	// Ascend calls fn for every record with from <= Rev.Main < to, in revision order,
	// until fn returns false. to <= 0 means no upper bound.
	Ascend(from, to int64, fn func(*Record) bool)
	// Commit applies b atomically. When it returns nil the batch is durable as far as the
	// implementation promises durability.
	Commit(b *Batch) error
	// Meta returns the value of a metadata key.
	Meta(key string) ([]byte, bool)
	// AscendMeta calls fn for every metadata key with the prefix, in key order, until fn
	// returns false.
	AscendMeta(prefix string, fn func(key string, value []byte) bool)
	// Len returns the number of records stored.
	Len() int
	// Close releases the backend.
	Close() error
}

// IndexScanner is implemented by backends that can list records without copying their
// values out: Ascend, with each Record's KV.Value left nil. Rebuilding the key index and
// compacting need no values. The Record, its key included, is valid only during fn.
type IndexScanner interface {
	AscendIndex(from, to int64, fn func(*Record) bool)
}

// IndexSaver is implemented by backends that can keep a copy of the store's key index
// (mvcc.Store.SaveIndex), so that the next open loads it instead of rebuilding it from every
// record. The copy is valid only for the backend's contents when it was saved: the backend
// drops it, atomically, with the first commit after it.
type IndexSaver interface {
	// SaveIndex stores the chunks next returns, in order, until it returns nil, replacing
	// any earlier copy; the copy counts only once all of it is durable.
	SaveIndex(next func() []byte) error
	// LoadIndex calls fn with each chunk of the saved copy, in order, until fn returns an
	// error; it reports false if there is no copy (never saved, or dropped since).
	LoadIndex(fn func(chunk []byte) error) (bool, error)
}

// AscendIndex is b.AscendIndex if b has it, else b.Ascend.
func AscendIndex(b Backend, from, to int64, fn func(*Record) bool) {
	if s, ok := b.(IndexScanner); ok {
		s.AscendIndex(from, to, fn)
		return
	}
	b.Ascend(from, to, fn)
}

// Pruner is implemented by backends that delete a compaction's dropped versions from their
// own scan: each record's key and size come from what the scan already read (no lookup per
// version), and a run of consecutive dropped records can go as one range deletion.
type Pruner interface {
	// Prune visits, in revision order, the records with from <= Rev and Rev.Main < to (to >
	// 0), and deletes in one atomic commit those for which visit returns true, stopping once
	// it has deleted limit of them. visit sees each whole record, value included (its
	// slices valid only during the call; the compaction hash reads them), with enc its
	// encoding (AppendRecord's bytes, as valid). Prune returns the revision to resume from
	// (just after the last record visited) and whether the scan reached to: resumed there, it
	// visits every record once.
	Prune(from kv.Revision, to int64, limit int, visit func(r *Record, enc []byte) bool) (next kv.Revision, done bool, err error)
}

// Prune is b.Prune if b has it; else it visits the records with Ascend, encoding each, and
// commits the dropped ones as a Batch's Deletes.
func Prune(b Backend, from kv.Revision, to int64, limit int, visit func(r *Record, enc []byte) bool) (next kv.Revision, done bool, err error) {
	if p, ok := b.(Pruner); ok {
		return p.Prune(from, to, limit, visit)
	}
	var (
		batch Batch
		enc   []byte
	)
	next, done = from, true
	b.Ascend(from.Main, to, func(r *Record) bool {
		if r.Rev.Less(from) {
			return true
		}
		next = kv.Revision{Main: r.Rev.Main, Sub: r.Rev.Sub + 1}
		enc = AppendRecord(enc[:0], r)
		if !visit(r, enc) {
			return true
		}
		batch.Deletes = append(batch.Deletes, r.Rev)
		done = len(batch.Deletes) < limit
		return done
	})
	if len(batch.Deletes) == 0 {
		return next, done, nil
	}
	return next, done, b.Commit(&batch)
}

// Sizer is implemented by backends that know how many bytes they hold.
type Sizer interface {
	Size() int64
}

// Cloner is implemented by backends that can make a cheap frozen copy of themselves, which
// may be read while the original goes on taking writes (snapshots use it).
type Cloner interface {
	Clone() Backend
}
