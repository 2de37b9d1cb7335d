package etcdsnap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
)

// A read-only reader of bbolt files held in memory. bbolt itself maps the file and trusts
// its page structure: on a damaged file it panics, faults (a page past the end of the
// mapping) or recurses for ever (a branch page pointing at itself), none of which a caller
// can recover from. This reader checks every offset and refuses a page reached twice, so a
// damaged file is an error. It reads what etcd writes: the root bucket's top-level buckets
// and their keys and values (no nested buckets). The layout is bbolt's (go.etcd.io/bbolt,
// internal/common): little-endian, as bbolt writes it on every platform etcd supports but
// s390x and ppc64 (big-endian).
//
//	page:    id u64 | flags u16 | count u16 | overflow u32 | data
//	meta:    magic u32 | version u32 | pageSize u32 | flags u32 | root {pgid u64, seq u64} |
//	         freelist u64 | pgid u64 (high water mark) | txid u64 | checksum u64 (FNV-64a)
//	branch:  count × {pos u32, ksize u32, pgid u64}, pos from the element to its key
//	leaf:    count × {flags u32, pos u32, ksize u32, vsize u32}, value after the key
//	bucket:  a leaf value {root pgid u64, sequence u64}, then the bucket's page inline if
//	         root is 0
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	elementSize      = 16
	bucketHeaderSize = 16
	metaSize         = 64

	branchPageFlag = 0x01
	leafPageFlag   = 0x02
	metaPageFlag   = 0x04
	bucketLeafFlag = 0x01

	// maxDepth bounds a B+tree's height: bbolt's trees over etcd's data are a few levels
	// high; a deeper one is damaged.
	maxDepth = 64
)

var le = binary.LittleEndian

// errBolt wraps every problem found in the file's structure.
var errBolt = errors.New("etcdsnap: damaged bbolt file")

func boltErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBolt, fmt.Sprintf(format, args...))
}

// bolt is an opened file.
type bolt struct {
	data     []byte
	pageSize uint64
	pgid     uint64 // pages [0, pgid) are in use
	root     uint64 // the root bucket's page
	seen     map[uint64]bool
}

type meta struct {
	pageSize, root, pgid, txid uint64
}

// readMeta decodes the meta page at off, if it is valid (magic, version, checksum).
func readMeta(data []byte, off uint64) (meta, bool) {
	if off > uint64(len(data)) || uint64(len(data))-off < pageHeaderSize+metaSize {
		return meta{}, false
	}
	m := data[off+pageHeaderSize : off+pageHeaderSize+metaSize]
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return meta{}, false
	}
	return meta{pageSize: uint64(le.Uint32(m[8:])), root: le.Uint64(m[16:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// IsBolt reports whether b begins with a bbolt meta page (its magic and version), as an etcd
// db file or a snapshot `etcdctl snapshot save` wrote from etcd does. It does not check the
// rest.
func IsBolt(b []byte) bool {
	return len(b) >= pageHeaderSize+8 && le.Uint32(b[pageHeaderSize:]) == boltMagic && le.Uint32(b[pageHeaderSize+4:]) == boltVersion
}

// openBolt checks the meta pages and picks the newer valid one, as bbolt does.
func openBolt(data []byte) (*bolt, error) {
	m0, ok0 := readMeta(data, 0)
	pageSize := m0.pageSize
	if !ok0 {
		// The first meta is damaged: find the second one at each page size bbolt allows,
		// as bbolt does.
		for i := 0; i <= 14 && pageSize == 0; i++ {
			if m, ok := readMeta(data, 1024<<i); ok && m.pageSize == 1024<<i {
				pageSize = m.pageSize
			}
		}
	}
	if pageSize < 1024 || pageSize > 1<<30 || pageSize&(pageSize-1) != 0 {
		return nil, boltErr("no valid meta page")
	}
	m1, ok1 := readMeta(data, pageSize)
	if ok1 && m1.pageSize != pageSize {
		ok1 = false
	}
	m := m0
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		m = m1
	case !ok0:
		return nil, boltErr("no valid meta page")
	}
	if m.pgid < 3 || m.pgid > uint64(len(data))/pageSize {
		return nil, boltErr("%d pages of %d bytes in use, but the file has %d bytes (truncated?)", m.pgid, pageSize, len(data))
	}
	b := &bolt{data: data, pageSize: pageSize, pgid: m.pgid, root: m.root, seen: map[uint64]bool{}}
	if m.root < 2 || m.root >= m.pgid {
		return nil, boltErr("root page %d out of range", m.root)
	}
	return b, nil
}

// page returns page id with its overflow pages, checking that it is in range, reached for
// the first time and says it is page id.
func (b *bolt) page(id uint64) ([]byte, error) {
	if id < 2 || id >= b.pgid {
		return nil, boltErr("page %d out of range [2, %d)", id, b.pgid)
	}
	if b.seen[id] {
		return nil, boltErr("page %d reached twice", id)
	}
	b.seen[id] = true
	off := id * b.pageSize
	hdr := b.data[off : off+pageHeaderSize]
	if got := le.Uint64(hdr); got != id {
		return nil, boltErr("page %d says it is page %d", id, got)
	}
	overflow := uint64(le.Uint32(hdr[12:]))
	if overflow >= b.pgid-id {
		return nil, boltErr("page %d: %d overflow pages past the end", id, overflow)
	}
	return b.data[off : off+(overflow+1)*b.pageSize], nil
}

// element returns the key (and for a leaf the value, flags) of element i of page p.
func element(p []byte, i int, leaf bool) (key, value []byte, flags uint32, child uint64, err error) {
	at := uint64(pageHeaderSize + i*elementSize)
	e := p[at : at+elementSize] // the caller checked that count elements fit
	var pos, ksize, vsize uint64
	if leaf {
		flags, pos, ksize, vsize = le.Uint32(e), uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
	} else {
		pos, ksize, child = uint64(le.Uint32(e)), uint64(le.Uint32(e[4:])), le.Uint64(e[8:])
	}
	start := at + pos
	if start+ksize+vsize > uint64(len(p)) {
		return nil, nil, 0, 0, boltErr("element %d runs past its page", i)
	}
	return p[start : start+ksize], p[start+ksize : start+ksize+vsize], flags, child, nil
}

// walk calls fn for each key and value of the tree rooted at page p, in the file's order.
// Keys must ascend strictly; a nested bucket is refused unless buckets is set (then fn gets
// its header).
func (b *bolt) walk(p []byte, depth int, buckets bool, last *[]byte, fn func(k, v []byte) error) error {
	if depth > maxDepth {
		return boltErr("tree deeper than %d levels", maxDepth)
	}
	if len(p) < pageHeaderSize {
		return boltErr("page of %d bytes", len(p))
	}
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return boltErr("page %d: %d elements do not fit", le.Uint64(p), count)
	}
	switch flags {
	case branchPageFlag:
		for i := range count {
			_, _, _, child, err := element(p, i, false)
			if err != nil {
				return err
			}
			cp, err := b.page(child)
			if err != nil {
				return err
			}
			if err := b.walk(cp, depth+1, buckets, last, fn); err != nil {
				return err
			}
		}
	case leafPageFlag:
		for i := range count {
			k, v, f, _, err := element(p, i, true)
			if err != nil {
				return err
			}
			if *last != nil && bytes.Compare(k, *last) <= 0 {
				return boltErr("keys out of order")
			}
			*last = k
			if f&bucketLeafFlag != 0 != buckets {
				return boltErr("key %q: bucket and value mixed", k)
			}
			if err := fn(k, v); err != nil {
				return err
			}
		}
	default:
		return boltErr("page %d: flags %#x, not a branch or leaf page", le.Uint64(p), flags)
	}
	return nil
}

// buckets returns the headers of the root bucket's buckets, by name.
func (b *bolt) buckets() (map[string][]byte, error) {
	root, err := b.page(b.root)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	var last []byte
	err = b.walk(root, 0, true, &last, func(k, v []byte) error {
		if len(v) < bucketHeaderSize {
			return boltErr("bucket %q: header of %d bytes", k, len(v))
		}
		out[string(k)] = v
		return nil
	})
	return out, err
}

// forEach calls fn for each key and value of a bucket (header as buckets returned it), in
// key order. The slices point into the file.
func (b *bolt) forEach(header []byte, fn func(k, v []byte) error) error {
	var p []byte
	if id := le.Uint64(header); id != 0 {
		var err error
		if p, err = b.page(id); err != nil {
			return err
		}
	} else {
		p = header[bucketHeaderSize:] // an inline bucket: its one leaf page follows the header
	}
	var last []byte
	return b.walk(p, 0, false, &last, fn)
}
