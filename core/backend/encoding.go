package backend

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxField bounds a key or value read back, so a corrupt stream fails cleanly instead of
// allocating without limit.
const maxField = 64 << 20

// AppendRecord appends r's canonical encoding to b: revision, tombstone flag, then the
// KeyValue fields. Hashes, snapshots and disk backends all use it.
func AppendRecord(b []byte, r *Record) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(r.Rev.Main))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Rev.Sub))
	if r.Tombstone {
		b = append(b, 't')
	} else {
		b = append(b, 'p')
	}
	b = binary.AppendUvarint(b, uint64(len(r.KV.Key)))
	b = append(b, r.KV.Key...)
	b = binary.AppendUvarint(b, uint64(len(r.KV.Value)))
	b = append(b, r.KV.Value...)
	b = binary.AppendVarint(b, r.KV.CreateRevision)
	b = binary.AppendVarint(b, r.KV.ModRevision)
	b = binary.AppendVarint(b, r.KV.Version)
	b = binary.AppendVarint(b, r.KV.Lease)
	return b
}

// ReadRecord decodes one record written by AppendRecord, checking that it is well formed.
func ReadRecord(r io.ByteReader) (Record, error) {
	var rec Record
	var raw [17]byte
	if err := readFull(r, raw[:]); err != nil {
		return rec, err
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
	return rec, checkRecord(&rec)
}

func checkRecord(rec *Record) error {
	if rec.KV.ModRevision != rec.Rev.Main {
		return fmt.Errorf("mod revision %d does not match record revision %v", rec.KV.ModRevision, rec.Rev)
	}
	if !rec.Tombstone && (rec.KV.Version < 1 || rec.KV.CreateRevision < 1 || rec.KV.CreateRevision > rec.Rev.Main) {
		return fmt.Errorf("bad version %d or create revision %d", rec.KV.Version, rec.KV.CreateRevision)
	}
	return nil
}

// DecodeRecord decodes one record that AppendRecord wrote into b (and nothing else), with the
// checks of ReadRecord. The key and value are copied out of b. Without withValue the value is
// skipped (left nil) and the key is not copied (it points into b): what rebuilding an index
// needs, at a fraction of the cost.
func DecodeRecord(b []byte, withValue bool) (Record, error) {
	if withValue {
		return decodeRecord(b, copyFields)
	}
	return decodeRecord(b, keyView)
}

// DecodeRecordView decodes b as DecodeRecord does, with the key and value pointing into b
// (no copy): valid only as long as b is, for a scan that looks at each record once.
func DecodeRecordView(b []byte) (Record, error) { return decodeRecord(b, fullView) }

// How decodeRecord hands out the key and value.
type decodeMode int

const (
	copyFields decodeMode = iota // both copied
	keyView                      // the key points into b; no value
	fullView                     // both point into b
)

func decodeRecord(b []byte, mode decodeMode) (Record, error) {
	var rec Record
	if len(b) < 17 {
		return rec, io.EOF
	}
	rec.Rev.Main = int64(binary.BigEndian.Uint64(b[0:8]))
	rec.Rev.Sub = int64(binary.BigEndian.Uint64(b[8:16]))
	switch b[16] {
	case 't':
		rec.Tombstone = true
	case 'p':
	default:
		return rec, fmt.Errorf("bad record kind %q", b[16])
	}
	b = b[17:]
	field := func() ([]byte, error) {
		n, w := binary.Uvarint(b)
		if w <= 0 {
			return nil, io.EOF
		}
		if n > uint64(len(b)-w) {
			return nil, fmt.Errorf("field of %d bytes but only %d left", n, len(b)-w)
		}
		f := b[w : w+int(n)]
		b = b[w+int(n):]
		return f, nil
	}
	key, err := field()
	if err != nil {
		return rec, err
	}
	switch {
	case len(key) == 0:
	case mode == copyFields:
		rec.KV.Key = append([]byte(nil), key...)
	default:
		rec.KV.Key = key[:len(key):len(key)]
	}
	value, err := field()
	if err != nil {
		return rec, err
	}
	switch {
	case len(value) == 0:
	case mode == copyFields:
		rec.KV.Value = append([]byte(nil), value...)
	case mode == fullView:
		rec.KV.Value = value[:len(value):len(value)]
	}
	for _, p := range []*int64{&rec.KV.CreateRevision, &rec.KV.ModRevision, &rec.KV.Version, &rec.KV.Lease} {
		v, w := binary.Varint(b)
		if w <= 0 {
			return rec, io.EOF
		}
		*p, b = v, b[w:]
	}
	if len(b) != 0 {
		return rec, fmt.Errorf("%d bytes after the record", len(b))
	}
	return rec, checkRecord(&rec)
}

// RecordKey is the key of the record AppendRecord wrote into b (pointing into b) and
// its key and value length (for size accounting), read without decoding the rest.
func RecordKey(b []byte) (key []byte, size int, ok bool) {
	key, n, ok := recordKey(b)
	return key, len(key) + n, ok
}

// recordKey reads the key and the value's length from the front of an encoded record.
func recordKey(b []byte) (key []byte, valueLen int, ok bool) {
	if len(b) < 17 {
		return nil, 0, false
	}
	b = b[17:]
	k, w := binary.Uvarint(b)
	if w <= 0 || k > uint64(len(b)-w) {
		return nil, 0, false
	}
	key, b = b[w:w+int(k)], b[w+int(k):]
	v, w := binary.Uvarint(b)
	if w <= 0 || v > uint64(len(b)-w) {
		return nil, 0, false
	}
	return key, int(v), true
}

func readBytes(r io.ByteReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxField {
		return nil, fmt.Errorf("field of %d bytes exceeds the limit", n)
	}
	if l, ok := r.(interface{ Len() int }); ok && n > uint64(l.Len()) {
		return nil, fmt.Errorf("field of %d bytes but only %d left", n, l.Len())
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	if err := readFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// readFull fills b from r: with one copy when r is also an io.Reader (a bytes.Reader or a
// bufio.Reader: what records are read from), else a byte at a time. Byte at a time cost a
// restart about a second per million records.
func readFull(r io.ByteReader, b []byte) error {
	if rr, ok := r.(io.Reader); ok {
		_, err := io.ReadFull(rr, b)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return err
	}
	for i := range b {
		c, err := r.ReadByte()
		if err != nil {
			return err
		}
		b[i] = c
	}
	return nil
}
