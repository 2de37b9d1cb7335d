package core

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// byteSource turns fuzz input into request fields; it yields zeros when exhausted.
type byteSource struct{ b []byte }

func (s *byteSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *byteSource) int(n int) int64 { return int64(s.byte()) % int64(n) }

// small returns a small, possibly negative or out-of-range, integer.
func (s *byteSource) small() int64 { return int64(int8(s.byte())) }

func (s *byteSource) key() []byte {
	switch s.int(8) {
	case 0:
		return nil
	case 1:
		return []byte{0}
	}
	return []byte{'k', '0' + byte(s.int(6))}
}

func (s *byteSource) rangeReq() *RangeRequest {
	return &RangeRequest{
		Key: s.key(), RangeEnd: s.key(), Limit: s.small(), Revision: s.small(),
		SortOrder: SortOrder(s.small()), SortTarget: SortTarget(s.small()),
		KeysOnly: s.int(2) == 0, CountOnly: s.int(3) == 0,
		MinModRevision: s.small(), MaxModRevision: s.small(),
		MinCreateRevision: s.small(), MaxCreateRevision: s.small(),
	}
}

func (s *byteSource) op(depth int) RequestOp {
	switch s.int(6) {
	case 0:
		return RequestOp{Range: s.rangeReq()}
	case 1:
		return RequestOp{Put: &PutRequest{Key: s.key(), Value: s.key(), Lease: s.small(), PrevKv: s.int(2) == 0,
			IgnoreValue: s.int(4) == 0, IgnoreLease: s.int(4) == 0}}
	case 2:
		return RequestOp{DeleteRange: &DeleteRangeRequest{Key: s.key(), RangeEnd: s.key(), PrevKv: s.int(2) == 0}}
	case 3:
		if depth < 3 {
			return RequestOp{Txn: s.txn(depth + 1)}
		}
	case 4:
		return RequestOp{}
	}
	return RequestOp{Range: &RangeRequest{Key: s.key()}}
}

func (s *byteSource) txn(depth int) *TxnRequest {
	r := &TxnRequest{}
	for n := s.int(4); n > 0; n-- {
		r.Compare = append(r.Compare, Compare{
			Result: CompareResult(s.small()), Target: CompareTarget(s.small()), Key: s.key(), RangeEnd: s.key(),
			Version: s.small(), CreateRevision: s.small(), ModRevision: s.small(), Value: s.key(), Lease: s.small(),
		})
	}
	for n := s.int(5); n > 0; n-- {
		r.Success = append(r.Success, s.op(depth))
	}
	for n := s.int(5); n > 0; n-- {
		r.Failure = append(r.Failure, s.op(depth))
	}
	return r
}

// fuzzStore is a small store with history, a compaction and a lease.
func fuzzStore(t testing.TB) *Store {
	s := newTestStore(t)
	s.LeaseGrant(&LeaseGrantRequest{ID: 1, TTL: 100})
	for i := 0; i < 12; i++ {
		s.Put(&PutRequest{Key: []byte{'k', '0' + byte(i%6)}, Value: []byte{byte(i)}, Lease: int64(i % 2)})
	}
	s.DeleteRange(&DeleteRangeRequest{Key: []byte("k3")})
	s.Compact(&CompactionRequest{Revision: 5})
	return s
}

// FuzzRange checks that any range request gets an answer or an etcd error, never a panic,
// and that the answer is consistent with the request.
func FuzzRange(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 3, 2, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{7, 0, 3, 250, 9, 3, 2})
	f.Add([]byte{1, 1, 0, 20, 0, 2, 1, 1, 1, 3, 7, 2, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzStore(t)
		src := &byteSource{b: data}
		r := src.rangeReq()
		resp, err := s.Range(r)
		if err != nil {
			if code, _ := Status(err); code == CodeUnknown {
				t.Fatalf("error without an etcd code: %v", err)
			}
			return
		}
		if r.Limit > 0 && int64(len(resp.Kvs)) > r.Limit {
			t.Fatalf("%d kvs over limit %d", len(resp.Kvs), r.Limit)
		}
		if int64(len(resp.Kvs)) > resp.Count {
			t.Fatalf("%d kvs but count %d", len(resp.Kvs), resp.Count)
		}
		if r.CountOnly && len(resp.Kvs) != 0 {
			t.Fatal("count_only returned kvs")
		}
		if resp.Header.Revision != s.Rev() {
			t.Fatalf("header revision %d, store %d", resp.Header.Revision, s.Rev())
		}
	})
}

// FuzzTxn checks that any txn shape is answered or refused with an etcd error, never a
// panic, and that a refused txn leaves the store as it was.
func FuzzTxn(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 3, 3, 4, 2, 1, 2, 1, 1, 2, 3, 1, 4, 1, 2, 3, 1, 2})
	f.Add([]byte{0, 2, 1, 3, 3, 2, 2, 1, 1, 3, 3, 1, 5, 3, 3, 2, 1, 0, 1, 2})
	f.Add([]byte{0, 3, 2, 2, 1, 2, 3, 3, 1, 1, 2, 5, 5, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzStore(t)
		r := (&byteSource{b: data}).txn(0)
		before, _ := s.HashKV(0)
		_, err := s.Txn(r)
		if err == nil {
			return
		}
		if code, _ := Status(err); code == CodeUnknown {
			t.Fatalf("error without an etcd code: %v", err)
		}
		after, _ := s.HashKV(0)
		if after.Hash != before.Hash || after.Header.Revision != before.Header.Revision {
			t.Fatalf("refused txn (%v) changed the store", err)
		}
	})
}

// FuzzRestore checks that any byte stream is either restored or refused, never a panic.
// The input is the snapshot body: the test frames it with the magic and a valid checksum so
// that the fuzzer reaches the decoders behind them (an invalid checksum is tested apart).
func FuzzRestore(f *testing.F) {
	var snap bytes.Buffer
	if err := fuzzStore(f).WriteSnapshot(&snap); err != nil {
		f.Fatal(err)
	}
	b := snap.Bytes()
	f.Add(b[len(snapshotMagic) : len(b)-4])
	f.Add([]byte{})
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append(append([]byte{}, snapshotMagic...), body...)
		data = binary.BigEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
		s, err := Restore(bytes.NewReader(data), Config{})
		if err != nil {
			return
		}
		defer s.Close()
		// A restored store must answer reads and take writes.
		if _, err := s.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}); err != nil {
			t.Fatalf("range after restore: %v", err)
		}
		if _, err := s.Put(&PutRequest{Key: []byte("new"), Value: []byte("v")}); err != nil {
			t.Fatalf("put after restore: %v", err)
		}
	})
}
