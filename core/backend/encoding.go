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
	for i := range b {
		if b[i], err = r.ReadByte(); err != nil {
			return nil, err
		}
	}
	return b, nil
}
