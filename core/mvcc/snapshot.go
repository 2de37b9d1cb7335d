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
//	compactRev, then for each record: 1, record (as appendRecord); then 0.
//
// Records come in revision order, so restoring replays history exactly.

// maxSnapshotField bounds a key or value read from a snapshot, so a corrupt stream fails
// cleanly instead of allocating without limit.
const maxSnapshotField = 64 << 20

// ErrBadSnapshot is returned for a snapshot stream that cannot be decoded.
var ErrBadSnapshot = errors.New("mvcc: malformed snapshot")

// View is a frozen state of the store, taken quickly and written out later, so that a
// snapshot does not hold writes off while it is serialised.
type View struct {
	b          backend.Backend
	compactRev int64
	release    func() // set when the view borrows the live backend under the read lock
}

// View captures the store's state. With a backend that can clone itself (backend.Cloner) it
// returns at once and writes go on; otherwise the store stays read-locked until the view is
// written.
func (s *Store) View() *View {
	s.mu.RLock()
	if c, ok := s.b.(backend.Cloner); ok {
		v := &View{b: c.Clone(), compactRev: s.compactRev}
		s.mu.RUnlock()
		return v
	}
	return &View{b: s.b, compactRev: s.compactRev, release: s.mu.RUnlock}
}

// Encode writes the view as a snapshot stream. A view is written once.
func (v *View) Encode(w io.Writer) error {
	if v.release != nil {
		defer v.release()
	}
	bw := bufio.NewWriter(w)
	var buf []byte
	buf = binary.AppendVarint(buf, v.compactRev)
	var werr error
	v.b.Ascend(0, 0, func(r *backend.Record) bool {
		buf = append(buf, 1)
		buf = appendRecord(buf, r)
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
		return fmt.Errorf("%w: compact revision: %v", ErrBadSnapshot, err)
	}
	batch := &backend.Batch{}
	var last kv.Revision
	for n := 0; ; n++ {
		more, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, n, err)
		}
		if more == 0 {
			break
		}
		if more != 1 {
			return fmt.Errorf("%w: record %d: bad marker %d", ErrBadSnapshot, n, more)
		}
		rec, err := readRecord(r)
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, n, err)
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
	if compactRev > last.Main && compactRev > 1 {
		return fmt.Errorf("%w: compact revision %d above last revision %d", ErrBadSnapshot, compactRev, last.Main)
	}
	if compactRev >= 0 {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(compactRev))
		batch.Meta = append(batch.Meta, backend.MetaEntry{Key: metaCompactRev, Value: v[:]})
	}
	return b.Commit(batch)
}

func readRecord(r io.ByteReader) (backend.Record, error) {
	var rec backend.Record
	var raw [17]byte
	for i := range raw {
		c, err := r.ReadByte()
		if err != nil {
			return rec, err
		}
		raw[i] = c
	}
	rec.Rev.Main = int64(binary.BigEndian.Uint64(raw[0:8]))
	rec.Rev.Sub = int64(binary.BigEndian.Uint64(raw[8:16]))
	switch raw[16] {
	case 't':
		rec.Tombstone = true
	case 'p':
	default:
		return rec, fmt.Errorf("bad record kind %q", raw[16])
	}
	var err error
	if rec.KV.Key, err = readBytes(r); err != nil {
		return rec, err
	}
	if rec.KV.Value, err = readBytes(r); err != nil {
		return rec, err
	}
	for _, p := range []*int64{&rec.KV.CreateRevision, &rec.KV.ModRevision, &rec.KV.Version, &rec.KV.Lease} {
		if *p, err = binary.ReadVarint(r); err != nil {
			return rec, err
		}
	}
	if rec.KV.ModRevision != rec.Rev.Main {
		return rec, fmt.Errorf("mod revision %d does not match record revision %v", rec.KV.ModRevision, rec.Rev)
	}
	if !rec.Tombstone && (rec.KV.Version < 1 || rec.KV.CreateRevision < 1 || rec.KV.CreateRevision > rec.Rev.Main) {
		return rec, fmt.Errorf("bad version %d or create revision %d", rec.KV.Version, rec.KV.CreateRevision)
	}
	return rec, nil
}

func readBytes(r io.ByteReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxSnapshotField {
		return nil, fmt.Errorf("field of %d bytes exceeds the limit", n)
	}
	if l, ok := r.(interface{ Len() int }); ok && n > uint64(l.Len()) {
		return nil, fmt.Errorf("field of %d bytes but only %d left", n, l.Len())
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	for i := range b {
		if b[i], err = r.ReadByte(); err != nil {
			return nil, err
		}
	}
	return b, nil
}
