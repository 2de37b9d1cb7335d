package mvcc

import (
	"encoding/binary"
	"errors"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// The saved key index (SaveIndex): a header chunk, then chunks of about indexChunkSize
// holding entries in key order. It is an optimisation only: a copy that is missing,
// from another version or does not decode is ignored, and the index is rebuilt from the
// records, the source of truth.
const (
	indexMagic     = "metastore-index-1"
	indexChunkSize = 64 << 10
)

// SaveIndex stores a copy of the key index in the backend, if it keeps one
// (backend.IndexSaver), for the next New to load instead of replaying every record. The
// backend drops the copy with its next commit, so it is worth saving only as the last write
// before the backend is closed: the server does it on a graceful stop. Call it after Close.
func (s *Store) SaveIndex() error {
	sv, ok := s.b.(backend.IndexSaver)
	if !ok {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	header := []byte(indexMagic)
	header = binary.AppendVarint(header, s.currentRev)
	header = binary.AppendVarint(header, s.compactRev)
	header = binary.AppendUvarint(header, uint64(s.index.Len()))
	// The entries in key order, a chunk at a time: the tree has no resumable iterator, so
	// each chunk resumes at the key after the last one written.
	var (
		sentHeader bool
		after      *keyIndex
		done       bool
		buf        []byte
	)
	return sv.SaveIndex(func() []byte {
		if !sentHeader {
			sentHeader = true
			return header
		}
		if done {
			return nil
		}
		buf = buf[:0]
		visit := func(ki *keyIndex) bool {
			if after != nil && ki.key == after.key {
				return true // AscendGreaterOrEqual starts at the last one written
			}
			buf = appendIndexEntry(buf, ki)
			after = ki
			return len(buf) < indexChunkSize
		}
		if after == nil {
			s.index.Ascend(visit)
		} else {
			s.index.AscendGreaterOrEqual(after, visit)
		}
		if len(buf) == 0 {
			done = true
			return nil
		}
		if len(buf) < indexChunkSize {
			done = true
		}
		return buf
	})
}

func appendIndexEntry(b []byte, ki *keyIndex) []byte {
	b = binary.AppendUvarint(b, uint64(len(ki.key)))
	b = append(b, ki.key...)
	b = binary.AppendVarint(b, ki.last.Main)
	b = binary.AppendVarint(b, ki.last.Sub)
	b = binary.AppendVarint(b, ki.created)
	b = binary.AppendVarint(b, ki.ver)
	b = binary.AppendVarint(b, ki.lease)
	if ki.hist == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(*ki.hist)))
	for _, e := range *ki.hist {
		b = binary.AppendVarint(b, e.rev.Main)
		b = binary.AppendVarint(b, e.rev.Sub)
		t := byte(0)
		if e.tomb {
			t = 1
		}
		b = append(b, t)
	}
	return b
}

var errBadIndex = errors.New("saved key index does not decode")

// loadIndex fills the (empty) index from a saved copy, reporting whether there was one it
// could use; on false the index is empty again.
func (s *Store) loadIndex(sv backend.IndexSaver) bool {
	var (
		first  = true
		want   uint64
		rev    int64
		prev   string
		loaded uint64
	)
	found, err := sv.LoadIndex(func(c []byte) error {
		if first {
			first = false
			if len(c) < len(indexMagic) || string(c[:len(indexMagic)]) != indexMagic {
				return errBadIndex
			}
			r := reader{b: c[len(indexMagic):]}
			rev = r.varint()
			compactRev := r.varint()
			want = r.uvarint()
			if r.err != nil || len(r.b) != 0 || compactRev != s.compactRev {
				return errBadIndex
			}
			return nil
		}
		r := reader{b: c}
		for len(r.b) > 0 && r.err == nil {
			ki := &keyIndex{key: string(r.bytes())}
			ki.last = kv.Revision{Main: r.varint(), Sub: r.varint()}
			ki.created, ki.ver, ki.lease = r.varint(), r.varint(), r.varint()
			if n := r.uvarint(); n > 0 && r.err == nil {
				if n > uint64(len(r.b)) {
					return errBadIndex
				}
				h := make([]revEntry, n)
				for i := range h {
					h[i] = revEntry{rev: kv.Revision{Main: r.varint(), Sub: r.varint()}, tomb: r.byte() == 1}
					if i > 0 && !h[i-1].rev.Less(h[i].rev) {
						return errBadIndex
					}
				}
				if !h[n-1].rev.Less(ki.last) {
					return errBadIndex
				}
				ki.hist = &h
			}
			if r.err != nil || ki.empty() || (loaded > 0 && ki.key <= prev) {
				return errBadIndex
			}
			prev = ki.key
			loaded++
			s.index.ReplaceOrInsert(ki)
		}
		if r.err != nil {
			return errBadIndex
		}
		return nil
	})
	if !found || err != nil || first || loaded != want {
		s.index.Clear(false)
		return false
	}
	s.currentRev = max(s.currentRev, rev)
	return true
}

// reader decodes the saved index; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 { return next(r, binary.Uvarint) }

func (r *reader) varint() int64 { return next(r, binary.Varint) }

// next decodes one varint with decode (binary.Uvarint or binary.Varint).
func next[T uint64 | int64](r *reader, decode func([]byte) (T, int)) T {
	x, n := decode(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errBadIndex
	}
	r.b = nil
}
