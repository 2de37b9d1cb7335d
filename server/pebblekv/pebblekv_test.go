package pebblekv

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

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

// TestSizeKeptAcrossReopen: the size each batch records is what a scan of the records
// finds, and what the database reports again after a reopen (which no longer scans). A
// database without the record (written before it existed) is sized by the scan.
func TestSizeKeptAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	var held []kv.Revision
	for main := int64(2); main < 500; main++ {
		b := &backend.Batch{}
		if main%7 == 0 { // a record of an earlier batch, as compaction deletes
			i := rng.Intn(len(held))
			b.Deletes = append(b.Deletes, held[i])
			held = append(held[:i], held[i+1:]...)
		}
		for sub := int64(0); sub < 3; sub++ {
			r := rec(main, sub, fmt.Sprintf("k%d", rng.Intn(50)), string(make([]byte, rng.Intn(300))))
			b.Puts = append(b.Puts, r)
			held = append(held, r.Rev)
		}
		if err := d.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	want, err := scanSize(d.db)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size() != want {
		t.Fatalf("size %d, a scan finds %d", d.Size(), want)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if d.Size() != want {
		t.Fatalf("after reopen: size %d, want %d", d.Size(), want)
	}
	// As written before the size was recorded.
	if err := d.db.Delete(sizeKey, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	d.Flush()
	d.Close()
	if d, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != want {
		t.Fatalf("without a size record: size %d, want %d", d.Size(), want)
	}
}

// TestIndexRecordsMatchRecords: AscendByKey (the 'k' records) lists what Ascend lists, less
// the values, grouped by key in byte order (keys with 0x00 bytes and keys that are prefixes
// of others included), after puts and deletes, across a reopen, and after a database
// without 'k' records (as written before they existed) is opened and given them.
func TestIndexRecordsMatchRecords(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "a\x00", "a\x00b", "a\x00\x01", "a\x01", "ab", "b", "\x00", "\x00\xff", "\xff"}
	var held []kv.Revision
	for main := int64(2); main < 300; main++ {
		b := &backend.Batch{}
		if main%5 == 0 {
			b.Deletes = append(b.Deletes, held[0])
			held = held[1:]
		}
		r := rec(main, 0, keys[int(main)%len(keys)], "v")
		if main%11 == 0 {
			r.Tombstone, r.KV.Value, r.KV.CreateRevision, r.KV.Version = true, nil, 0, 0
		}
		b.Puts = append(b.Puts, r)
		held = append(held, r.Rev)
		if err := d.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		var want, got []string
		var recs []backend.Record
		d.Ascend(0, 0, func(r *backend.Record) bool {
			recs = append(recs, *r)
			return true
		})
		sort.SliceStable(recs, func(i, j int) bool { return bytes.Compare(recs[i].KV.Key, recs[j].KV.Key) < 0 })
		for _, r := range recs {
			r.KV.Value = nil
			want = append(want, fmt.Sprintf("%v %+v %v", r.Rev, r.KV, r.Tombstone))
		}
		d.AscendByKey(func(r *backend.Record) bool {
			got = append(got, fmt.Sprintf("%v %+v %v", r.Rev, r.KV, r.Tombstone))
			return true
		})
		if len(want) != len(held) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %d records held, Ascend lists %d, AscendByKey %d:\n%v\n%v", when, len(held), len(want), len(got), want, got)
		}
	}
	check("after writes")
	reopen := func() {
		t.Helper()
		if err := d.Flush(); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if d, err = Open(dir); err != nil {
			t.Fatal(err)
		}
	}
	reopen()
	check("after a reopen")
	// Back to the format before 'k' records.
	if err := d.db.DeleteRange([]byte{'k'}, []byte{'k' + 1}, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := d.db.Delete(formatKey, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	reopen()
	defer d.Close()
	check("after opening a database without index records")
}

// FuzzKeyIdx: a 'k' record decodes back to the key, revision and fields it was written
// from, whatever bytes the key holds, and keys sort as their user keys do; arbitrary bytes
// read as a 'k' record fail cleanly, never panic.
func FuzzKeyIdx(f *testing.F) {
	f.Add([]byte("a"), []byte("b"), int64(5), int64(0), int64(3), false)
	f.Add([]byte("a\x00"), []byte("a\x00\x01"), int64(1), int64(2), int64(-1), true)
	f.Add([]byte{0, 0xff, 0}, []byte{0}, int64(1<<40), int64(7), int64(0), false)
	f.Fuzz(func(t *testing.T, key, other []byte, main, sub, lease int64, tomb bool) {
		if len(key) == 0 || len(other) == 0 {
			return
		}
		r := rec(main, sub, string(key), "")
		r.Tombstone, r.KV.Lease = tomb, lease
		k, v := keyIdxKey(key, r.Rev), appendKeyIdxValue(nil, &r)
		var got backend.Record
		if _, err := decodeKeyIdx(k, v, &got, nil); err != nil {
			t.Fatalf("decode %x: %v", k, err)
		}
		r.KV.Value = nil
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("decoded %+v, wrote %+v", got, r)
		}
		ko := keyIdxKey(other, kv.Revision{Main: main + 1})
		if c, want := bytes.Compare(k, ko), bytes.Compare(key, other); want != 0 && c != want {
			t.Fatalf("%q vs %q: 'k' keys compare %d, keys %d", key, other, c, want)
		}
		decodeKeyIdx(key, other, &got, nil) // arbitrary bytes: an error or a record, no panic
		decodeKeyIdx(nil, other, &got, nil)
	})
}

// TestPruneMatchesMemory: Prune (one scan, runs of dropped records as range deletes) visits
// the same records with the same encodings and leaves exactly what the memory backend's batch
// deletes leave, given the same records and the same
// choice of what to drop (long runs, short runs and single records, sub revisions included),
// in batches of a small limit resumed where the last stopped; each dropped record's 'k'
// record goes with it and the size stays what a scan finds.
func TestPruneMatchesMemory(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m := backend.NewMemory()
	rng := rand.New(rand.NewSource(1))
	for main := int64(2); main < 600; main++ {
		b := &backend.Batch{}
		for sub := int64(0); sub < int64(1+rng.Intn(3)); sub++ {
			b.Puts = append(b.Puts, rec(main, sub, fmt.Sprintf("k%d", rng.Intn(40)), string(make([]byte, rng.Intn(100)))))
		}
		for _, be := range []backend.Backend{d, m} {
			if err := be.Commit(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Runs of dropped and kept records of random lengths, decided by revision.
	drops := map[kv.Revision]bool{}
	dropping := false
	m.Ascend(0, 0, func(r *backend.Record) bool {
		if rng.Intn(6) == 0 {
			dropping = !dropping
		}
		drops[r.Rev] = dropping
		return true
	})
	// Each backend visits every record once, across the batches, with its encoding.
	visited := map[backend.Backend][]string{}
	visitor := func(be backend.Backend) func(*backend.Record, []byte) bool {
		return func(r *backend.Record, enc []byte) bool {
			visited[be] = append(visited[be], fmt.Sprintf("%v %x", r.Rev, enc))
			return drops[r.Rev]
		}
	}
	list := func(be backend.Backend) (out []string) {
		be.Ascend(0, 0, func(r *backend.Record) bool {
			out = append(out, fmt.Sprintf("%v %s %d", r.Rev, r.KV.Key, len(r.KV.Value)))
			return true
		})
		return out
	}
	for _, step := range []struct{ to int64 }{{200}, {450}, {601}} {
		for _, be := range []backend.Backend{d, m} {
			var from kv.Revision
			batches := 0
			for {
				next, done, err := backend.Prune(be, from, step.to, 7, visitor(be))
				if err != nil {
					t.Fatal(err)
				}
				if batches++; done {
					break
				}
				if batches > 1000 {
					t.Fatalf("pruning below %d does not finish", step.to)
				}
				from = next
			}
		}
		if got, want := visited[d], visited[m]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("below %d: pebble visited %d records, memory %d:\n%v\n%v", step.to, len(got), len(want), got, want)
		}
		if got, want := list(d), list(m); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("below %d: pebble holds %d records, memory %d:\n%v\n%v", step.to, len(got), len(want), got, want)
		}
		var byKey int
		d.AscendByKey(func(r *backend.Record) bool {
			if drops[r.Rev] && r.Rev.Main < step.to {
				t.Fatalf("below %d: the 'k' record of dropped %v is still there", step.to, r.Rev)
			}
			byKey++
			return true
		})
		if byKey != len(list(m)) {
			t.Fatalf("below %d: %d 'k' records for %d records", step.to, byKey, len(list(m)))
		}
		if want, _ := scanSize(d.db); d.Size() != want {
			t.Fatalf("below %d: size %d, a scan finds %d", step.to, d.Size(), want)
		}
	}
}
