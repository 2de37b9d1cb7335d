package core

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
)

// key8 returns an 8-byte key for i, as etcd's benchmark tool makes them.
func key8(i int) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(i))
	return k[:]
}

var val256 = make([]byte, 256)

func BenchmarkPut(b *testing.B) {
	s := newTestStore(b)
	req := &PutRequest{Value: val256}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req.Key = key8(i % 100_000)
		if _, err := s.Put(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutParallel(b *testing.B) {
	s := newTestStore(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.Put(&PutRequest{Key: key8(i % 100_000), Value: val256}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func loaded(b *testing.B, n int) *Store {
	s := newTestStore(b)
	for i := 0; i < n; i++ {
		if _, err := s.Put(&PutRequest{Key: key8(i), Value: val256}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkRange1(b *testing.B) {
	s := loaded(b, 10_000)
	req := &RangeRequest{Key: key8(5000)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r, err := s.Range(req); err != nil || len(r.Kvs) != 1 {
			b.Fatal(err)
		}
	}
}

func BenchmarkRange1000(b *testing.B) {
	s := loaded(b, 10_000)
	req := &RangeRequest{Key: key8(2000), RangeEnd: key8(3000)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r, err := s.Range(req); err != nil || len(r.Kvs) != 1000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkRange1Parallel(b *testing.B) {
	s := loaded(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := &RangeRequest{Key: key8(5000)}
		for pb.Next() {
			if _, err := s.Range(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTxn is a compare-and-swap: compare the version, then put.
func BenchmarkTxn(b *testing.B) {
	s := loaded(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := key8(i % 1000)
		r, err := s.Txn(&TxnRequest{
			Compare: []Compare{{Target: CompareVersion, Result: CompareGreater, Key: k}},
			Success: []RequestOp{{Put: &PutRequest{Key: k, Value: val256}}},
			Failure: []RequestOp{{Range: &RangeRequest{Key: k}}},
		})
		if err != nil || !r.Succeeded {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPerKey loads 1M keys (8-byte keys, 256-byte values) and reports the heap
// used per key. It ignores b.N: run it with -benchtime=1x.
func BenchmarkMemoryPerKey(b *testing.B) {
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := loaded(b, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(perKey-8-256, "overhead-B/key")
	if s.Rev() != n+1 {
		b.Fatal(fmt.Sprint("revision ", s.Rev()))
	}
	runtime.KeepAlive(s)
}
