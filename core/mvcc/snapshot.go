package mvcc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// Snapshot stream layout (all integers varint-encoded):
//
//	compactRev, then for each record: 1, record (backend.AppendRecord); then 0.
//
// Records come in revision order, so restoring replays history exactly.

// ErrBadSnapshot is returned for a snapshot stream that cannot be decoded.
var ErrBadSnapshot = errors.New("mvcc: malformed snapshot")

// View is a frozen state of the store, taken quickly and written out later, so that a
// snapshot does not hold writes off while it is serialised.
type View struct {
	b          backend.Backend
	compactRev int64
	keep       map[kv.Revision]struct{} // set while a compaction's deletes are pending (see hashRecords)
	release    func()                   // set when the view borrows the live backend under the read lock
}

// View captures the store's state. With a backend that can clone itself (backend.Cloner) it
// returns at once and writes go on; otherwise the store stays read-locked until the view is
// written.
//
// Versions a compaction dropped that the compactor has not deleted yet are left out, so that
// members with the same history write the same snapshot.
func (s *Store) View() *View {
	s.mu.RLock()
	v := &View{compactRev: s.compactRev}
	if s.compactPending() {
		v.keep = s.keptLocked()
	}
	if c, ok := s.b.(backend.Cloner); ok {
		v.b = c.Clone()
		s.mu.RUnlock()
		return v
	}
	v.b, v.release = s.b, s.mu.RUnlock
	return v
}

// Encode writes the view as a snapshot stream. A view is written once.
func (v *View) Encode(w io.Writer) error {
	if v.release != nil {
		defer v.release()
	} else {
		defer v.b.Close() // the clone
	}
	bw := bufio.NewWriter(w)
	var buf []byte
	buf = binary.AppendVarint(buf, v.compactRev)
	var werr error
	v.b.Ascend(0, 0, func(r *backend.Record) bool {
		if pendingDelete(r, v.compactRev, v.keep) {
			return true
		}
		buf = append(buf, 1)
		buf = backend.AppendRecord(buf, r)
		if len(buf) > 32<<10 {
			_, werr = bw.Write(buf)
			buf = buf[:0]
		}
		return werr == nil
	})
	if werr != nil {
		return werr
	}
	buf = append(buf, 0)
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	return bw.Flush()
}

// RestoreSnapshot reads a stream written by WriteSnapshot into b, which should be empty.
// Open a Store over b afterwards.
func RestoreSnapshot(r io.ByteReader, b backend.Backend) error {
	compactRev, err := binary.ReadVarint(r)
	if err != nil {
		return fmt.Errorf("%w: compact revision: %w", ErrBadSnapshot, err)
	}
	batch := &backend.Batch{}
	var last kv.Revision
	for n := 0; ; n++ {
		more, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrBadSnapshot, n, err)
		}
		if more == 0 {
			break
		}
		if more != 1 {
			return fmt.Errorf("%w: record %d: bad marker %d", ErrBadSnapshot, n, more)
		}
		rec, err := backend.ReadRecord(r)
		if err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrBadSnapshot, n, err)
		}
		if rec.Rev.Main < 2 || rec.Rev.Sub < 0 || (n > 0 && !last.Less(rec.Rev)) || len(rec.KV.Key) == 0 {
			return fmt.Errorf("%w: record %d: revision %v out of order or key empty", ErrBadSnapshot, n, rec.Rev)
		}
		last = rec.Rev
		batch.Puts = append(batch.Puts, rec)
		if len(batch.Puts) >= 4096 {
			if err := b.Commit(batch); err != nil {
				return err
			}
			batch.Reset()
		}
	}
	// The compact revision may be above the last record: after BumpAndCompact (a restore's
	// --bump-revision), or when the newest revisions were tombstones compacted away (etcd
	// before 3.6 dropped a tombstone at the compact revision; etcdsnap converts such files).
	// The store then starts at the compact revision, as etcd does.
	if compactRev >= 0 {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(compactRev))
		batch.Meta = append(batch.Meta, backend.MetaEntry{Key: metaCompactRev, Value: v[:]})
	}
	return b.Commit(batch)
}
