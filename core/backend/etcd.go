package backend

import (
	"encoding/binary"

	"github.com/metastore/metastore/core/kv"
)

// How etcd 3.6 stores a record in its "key" bucket. HashKV hashes these bytes, so that a
// MetaStore member and an etcd member holding the same history give the same number (a
// restore from etcd can be checked against the etcd it came from), and etcd's db files are
// read and written with them.

// AppendEtcdKey appends the bucket key etcd stores a revision under (mvcc.BucketKeyToBytes):
// the main revision as 8 big-endian bytes, '_', the sub revision as 8, and 't' for a
// tombstone.
func AppendEtcdKey(b []byte, rev kv.Revision, tombstone bool) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(rev.Main))
	b = append(b, '_')
	b = binary.BigEndian.AppendUint64(b, uint64(rev.Sub))
	if tombstone {
		b = append(b, 't')
	}
	return b
}

// AppendEtcdValue appends the value etcd stores for r: its mvccpb.KeyValue in protobuf's
// encoding as gogoproto writes it (fields in number order, zero values left out); a
// tombstone's holds the key alone. The core does not import protobuf (its WebAssembly would
// grow tenfold), and the message is six scalar fields.
func AppendEtcdValue(b []byte, r *Record) []byte {
	b = appendBytesField(b, 1, r.KV.Key)
	if r.Tombstone {
		return b
	}
	b = appendVarintField(b, 2, r.KV.CreateRevision)
	b = appendVarintField(b, 3, r.KV.ModRevision)
	b = appendVarintField(b, 4, r.KV.Version)
	b = appendBytesField(b, 5, r.KV.Value)
	return appendVarintField(b, 6, r.KV.Lease)
}

// Protobuf wire types.
const (
	wireVarint = 0
	wireBytes  = 2
)

func appendVarintField(b []byte, field int, v int64) []byte {
	if v == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(field)<<3|wireVarint)
	return binary.AppendUvarint(b, uint64(v)) // a negative int64 takes ten bytes, as in protobuf
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(field)<<3|wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
