package pebblekv

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

// BenchmarkCompact loads a history of many versions of few keys (as make bench-ops does:
// sequential keys, 256-byte values) and times the background compaction of all of it, with
// no pause between batches: what the compactor costs, in time and CPU (-cpuprofile).
// COMPACT_REVS and COMPACT_KEYS size it (default 200000 over 20000).
func BenchmarkCompact(b *testing.B) {
	revs := envInt("COMPACT_REVS", 200000)
	keys := envInt("COMPACT_KEYS", 20000)
	val := make([]byte, 256)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d, s := openStore(b, b.TempDir(), mvcc.Config{CompactionSleepInterval: time.Nanosecond})
		for r := 0; r < revs; r++ {
			w := s.Write()
			w.Put([]byte(fmt.Sprintf("%08d", r%keys)), val, 0)
			w.End()
		}
		b.StartTimer()
		rev := s.Rev()
		if err := s.Compact(rev); err != nil {
			b.Fatal(err)
		}
		<-s.PhysicalDone(rev)
		b.StopTimer()
		s.Close()
		d.Close()
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// BenchmarkRecover times reopening a database and rebuilding the key index from it (what a
// restart waits for), on RECOVER_REVS versions over RECOVER_KEYS keys (default 1000000 over
// 200000; make bench-restart runs the whole server on 5M over 1M): from the index records
// (after a crash), and from a saved copy of the index (after a graceful stop).
func BenchmarkRecover(b *testing.B) {
	revs := envInt("RECOVER_REVS", 1000000)
	keys := envInt("RECOVER_KEYS", 200000)
	dir := b.TempDir()
	d, s := openStore(b, dir)
	val := make([]byte, 256)
	for r := 0; r < revs; {
		w := s.Write()
		for n := 0; n < 100 && r < revs; n, r = n+1, r+1 {
			w.Put([]byte(fmt.Sprintf("%08d", r%keys)), val, 0)
		}
		w.End()
	}
	s.Close()
	if err := d.Flush(); err != nil {
		b.Fatal(err)
	}
	reopen := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d, s := openStore(b, dir)
			b.StopTimer()
			if s.Rev() < int64(revs/100) {
				b.Fatalf("recovered revision %d", s.Rev())
			}
			s.Close()
			d.Close()
			b.StartTimer()
		}
	}
	b.Run("replay", func(b *testing.B) {
		d.Close()
		reopen(b)
	})
	b.Run("saved", func(b *testing.B) {
		d, s := openStore(b, dir)
		s.Close()
		if err := s.SaveIndex(); err != nil {
			b.Fatal(err)
		}
		d.Close()
		b.ResetTimer()
		reopen(b)
	})
}

// openStore opens the database in dir and a store over it.
func openStore(b *testing.B, dir string, cfg ...mvcc.Config) (*DB, *mvcc.Store) {
	b.Helper()
	d, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	c := mvcc.Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Backend = d
	s, err := mvcc.New(c)
	if err != nil {
		b.Fatal(err)
	}
	return d, s
}

// BenchmarkCommit: the apply path's batch for one put of etcd's benchmark (8-byte key,
// 256-byte value) with its metadata.
func BenchmarkCommit(b *testing.B) {
	d, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	val := make([]byte, 256)
	b.ReportAllocs()
	var main int64
	for b.Loop() {
		main++
		err := d.Commit(&backend.Batch{
			Puts: []backend.Record{{Rev: kv.Revision{Main: main}, KV: kv.KeyValue{Key: []byte("12345678"), Value: val, CreateRevision: main, ModRevision: main, Version: 1}}},
			Meta: []backend.MetaEntry{{Key: "applied", Value: []byte("12345678")}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
