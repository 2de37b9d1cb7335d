package pebblekv

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
)

func rec(main, sub int64, key, val string) backend.Record {
	return backend.Record{Rev: kv.Revision{Main: main, Sub: sub}, KV: kv.KeyValue{
		Key: []byte(key), Value: []byte(val), CreateRevision: main, ModRevision: main, Version: 1}}
}

func TestBackendBasics(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend.Batch{
		Puts: []backend.Record{rec(2, 0, "a", "1"), rec(3, 0, "b", "1"), rec(3, 1, "c", "1"), rec(4, 0, "a", "2")},
		Meta: []backend.MetaEntry{{Key: "x/1", Value: []byte("one")}, {Key: "x/2", Value: []byte("two")}, {Key: "y", Value: []byte("why")}},
	}
	if err := d.Commit(b); err != nil {
		t.Fatal(err)
	}
	if r, ok := d.Get(kv.Revision{Main: 3, Sub: 1}); !ok || string(r.KV.Key) != "c" {
		t.Fatalf("get: %v %v", r, ok)
	}
	var got []string
	d.Ascend(3, 4, func(r *backend.Record) bool { got = append(got, r.Rev.String()); return true })
	if fmt.Sprint(got) != "[3.0 3.1]" {
		t.Fatalf("ascend [3,4): %v", got)
	}
	got = nil
	d.AscendMeta("x/", func(k string, v []byte) bool { got = append(got, k+"="+string(v)); return true })
	if fmt.Sprint(got) != "[x/1=one x/2=two]" {
		t.Fatalf("meta: %v", got)
	}
	// A clone does not see later writes.
	c := d.Clone()
	d.Commit(&backend.Batch{Deletes: []kv.Revision{{Main: 2}}, Meta: []backend.MetaEntry{{Key: "y"}}})
	if _, ok := c.Get(kv.Revision{Main: 2}); !ok {
		t.Fatal("clone lost a record deleted after it was taken")
	}
	if _, ok := d.Get(kv.Revision{Main: 2}); ok {
		t.Fatal("deleted record still there")
	}
	if _, ok := d.Meta("y"); ok {
		t.Fatal("deleted meta still there")
	}
	c.Close()
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Len() != 3 || d.Size() <= 0 {
		t.Fatalf("after reopen: %d records, %d bytes", d.Len(), d.Size())
	}
}

// TestCoreOnPebbleMatchesMemory runs the same random operations on a core over pebble and
// over memory, compares them, then reopens the pebble one and compares again: recovery from
// disk yields the same store, leases included.
func TestCoreOnPebbleMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	pd, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := core.New(core.Config{Backend: pd, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := core.New(core.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 3000; i++ {
		for _, s := range []*core.Store{disk, mem} {
			s.SetApplied(uint64(i + 1))
		}
		k := []byte(fmt.Sprintf("k%02d", rng.Intn(30)))
		switch op := rng.Intn(20); {
		case op < 12:
			lease := int64(0)
			if rng.Intn(5) == 0 {
				lease = int64(1 + rng.Intn(3))
			}
			v := []byte(fmt.Sprint(i))
			_, e1 := disk.Put(&core.PutRequest{Key: k, Value: v, Lease: lease})
			_, e2 := mem.Put(&core.PutRequest{Key: k, Value: v, Lease: lease})
			if (e1 == nil) != (e2 == nil) {
				t.Fatalf("put: %v vs %v", e1, e2)
			}
		case op < 15:
			disk.DeleteRange(&core.DeleteRangeRequest{Key: k, RangeEnd: []byte("k2")})
			mem.DeleteRange(&core.DeleteRangeRequest{Key: k, RangeEnd: []byte("k2")})
		case op < 17:
			id := int64(1 + rng.Intn(3))
			disk.LeaseGrant(&core.LeaseGrantRequest{ID: id, TTL: 100})
			mem.LeaseGrant(&core.LeaseGrantRequest{ID: id, TTL: 100})
		case op < 18:
			id := int64(1 + rng.Intn(3))
			disk.LeaseRevoke(id)
			mem.LeaseRevoke(id)
		default:
			rev := disk.Rev() - int64(rng.Intn(20))
			disk.Compact(&core.CompactionRequest{Revision: rev})
			mem.Compact(&core.CompactionRequest{Revision: rev})
		}
		for _, s := range []*core.Store{disk, mem} {
			s.SaveApplied()
		}
	}
	same := func(stage string) {
		t.Helper()
		h1, _ := disk.HashKV(0)
		h2, _ := mem.HashKV(0)
		if h1.Hash != h2.Hash || h1.CompactRevision != h2.CompactRevision || h1.Header.Revision != h2.Header.Revision {
			t.Fatalf("%s: disk %+v, memory %+v", stage, h1, h2)
		}
		l1, l2 := disk.LeaseLeases().Leases, mem.LeaseLeases().Leases
		if fmt.Sprint(l1) != fmt.Sprint(l2) {
			t.Fatalf("%s: leases %v vs %v", stage, l1, l2)
		}
		for _, id := range l1 {
			k1, k2 := disk.LeaseTimeToLive(id, true).Keys, mem.LeaseTimeToLive(id, true).Keys
			if fmt.Sprint(k1) != fmt.Sprint(k2) {
				t.Fatalf("%s: lease %d keys %q vs %q", stage, id, k1, k2)
			}
		}
		if disk.Applied() != mem.Applied() {
			t.Fatalf("%s: applied %d vs %d", stage, disk.Applied(), mem.Applied())
		}
	}
	same("running")
	disk.Close()
	pd.Flush()
	pd.Close()
	pd, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer pd.Close()
	disk, err = core.New(core.Config{Backend: pd, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	same("reopened")
}
