package pebblekv

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"reflect"
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
			if rng.Intn(4) == 0 {
				v = bytes.Repeat(v, 2048/len(v)) // large enough to go to a blob file
			}
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
		if i%500 == 499 {
			pd.Flush() // tables and blob files for compactions to work on
		}
	}
	if pd.db.Metrics().BlobFiles.LiveCount == 0 {
		t.Fatal("no value went to a blob file")
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

// indexList lists what AscendIndex gives (the index records), to compare with Ascend's
// records less their values.
func indexList(d *DB) (got []string) {
	d.AscendIndex(0, 0, func(r *backend.Record) bool {
		got = append(got, fmt.Sprintf("%v %+v %v", r.Rev, r.KV, r.Tombstone))
		return true
	})
	return got
}

func recordList(d *DB) (want []string) {
	d.Ascend(0, 0, func(r *backend.Record) bool {
		kv := r.KV
		kv.Value = nil
		want = append(want, fmt.Sprintf("%v %+v %v", r.Rev, kv, r.Tombstone))
		return true
	})
	return want
}

// TestIndexRecordsMatchRecords: AscendIndex (the index records) lists what Ascend lists, less
// the values, after puts and deletes, across a reopen, within bounds, and after a database
// of format 1 (index records by key under 'k', metadata under 'm') or from before index
// records is opened and rewritten, its metadata kept.
func TestIndexRecordsMatchRecords(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "a\x00", "a\x00b", "ab", "b", "\x00", "\xff"}
	var held []kv.Revision
	for main := int64(2); main < 300; main++ {
		b := &backend.Batch{}
		if main%5 == 0 {
			b.Deletes = append(b.Deletes, held[0])
			held = held[1:]
		}
		r := rec(main, 0, keys[int(main)%len(keys)], "v")
		r.KV.Lease = main % 3
		if main%11 == 0 {
			r.Tombstone, r.KV.Value, r.KV.CreateRevision, r.KV.Version, r.KV.Lease = true, nil, 0, 0, 0
		}
		b.Puts = append(b.Puts, r)
		held = append(held, r.Rev)
		if main%50 == 0 {
			b.Meta = append(b.Meta, backend.MetaEntry{Key: fmt.Sprintf("x/%d", main), Value: []byte{byte(main)}})
		}
		if err := d.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	meta := func() (out []string) {
		d.AscendMeta("", func(k string, v []byte) bool {
			out = append(out, fmt.Sprintf("%s=%x", k, v))
			return true
		})
		return out
	}
	wantMeta := meta()
	if len(wantMeta) != 5 {
		t.Fatalf("metadata %v", wantMeta)
	}
	check := func(when string) {
		t.Helper()
		want, got := recordList(d), indexList(d)
		if len(want) != len(held) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %d records held, Ascend lists %d, AscendIndex %d:\n%v\n%v", when, len(held), len(want), len(got), want, got)
		}
		var bounded []string
		d.AscendIndex(100, 200, func(r *backend.Record) bool {
			if r.Rev.Main < 100 || r.Rev.Main >= 200 {
				t.Fatalf("%s: AscendIndex(100, 200) lists %v", when, r.Rev)
			}
			bounded = append(bounded, r.Rev.String())
			return true
		})
		if len(bounded) == 0 || len(bounded) >= len(got) {
			t.Fatalf("%s: AscendIndex(100, 200) lists %d of %d", when, len(bounded), len(got))
		}
		if m := meta(); fmt.Sprint(m) != fmt.Sprint(wantMeta) {
			t.Fatalf("%s: metadata %v, want %v", when, m, wantMeta)
		}
		if v, c, err := d.db.Get(formatKey); err != nil || len(v) != 1 || v[0] != format {
			t.Fatalf("%s: format %x %v", when, v, err)
		} else {
			c.Close()
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
	// Back to format 1: the metadata under 'm', index records (here just some bytes) under
	// 'k', none under 't'.
	toFormat1 := func() {
		t.Helper()
		wb := d.db.NewBatch()
		it, _ := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{metaPrefix}, UpperBound: []byte{metaPrefix + 1}})
		for ok := it.First(); ok; ok = it.Next() {
			wb.Set(append([]byte{oldMetaPrefix}, it.Key()[1:]...), it.Value(), nil)
		}
		it.Close()
		wb.DeleteRange([]byte{metaPrefix}, []byte{metaPrefix + 1}, nil)
		wb.DeleteRange([]byte{indexPrefix}, []byte{indexPrefix + 1}, nil)
		wb.Set([]byte("kstale"), []byte("x"), nil)
		wb.Set(formatKey, []byte{1}, nil)
		if err := wb.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if len(indexList(d)) != 0 || len(meta()) != 0 {
			t.Fatal("format 1 database still has index records or metadata where format 2 keeps them")
		}
	}
	toFormat1()
	reopen()
	check("after opening a format 1 database")
	if _, c, err := d.db.Get([]byte("kstale")); err == nil {
		c.Close()
		t.Fatal("format 1's 'k' records are still there")
	}
	// From before index records: no format mark.
	toFormat1()
	if err := d.db.Delete(formatKey, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	reopen()
	check("after opening a database without index records")
	// A format from a later version is refused, not rewritten.
	if err := d.db.Set(formatKey, []byte{format + 1}, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err = Open(dir); err == nil {
		d.Close()
		t.Fatal("a database of a later format opened")
	}
}

// FuzzIndexRecord: an index record decodes back to the key, revision and fields it was
// written from, whatever bytes the key holds; arbitrary bytes read as an index record fail
// cleanly, never panic.
func FuzzIndexRecord(f *testing.F) {
	f.Add([]byte("a"), []byte("b"), int64(5), int64(0), int64(3), false)
	f.Add([]byte("a\x00"), []byte("t\x00\x01"), int64(1), int64(2), int64(-1), true)
	f.Add([]byte{0, 0xff, 0}, []byte{'p', 200}, int64(1<<40), int64(7), int64(0), false)
	f.Fuzz(func(t *testing.T, key, other []byte, main, sub, lease int64, tomb bool) {
		r := rec(main, sub, string(key), "")
		r.Tombstone, r.KV.Lease = tomb, lease
		k, v := indexKey(r.Rev), appendIndexValue(nil, &r)
		var got backend.Record
		if err := decodeIndex(k, v, &got); err != nil {
			t.Fatalf("decode %x %x: %v", k, v, err)
		}
		r.KV.Value = nil
		if len(r.KV.Key) == 0 {
			r.KV.Key = got.KV.Key[:0:0] // an empty key decodes as an empty, not nil, slice
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("decoded %+v, wrote %+v", got, r)
		}
		decodeIndex(k, other, &got) // arbitrary bytes: an error or a record, no panic
		decodeIndex(other, v, &got)
	})
}

// TestPruneMatchesMemory: Prune (one scan, runs of dropped records as range deletes) visits
// the same records (values included: the compaction hash reads them) with the same encodings
// and leaves exactly what the memory backend's batch
// deletes leave, given the same records and the same
// choice of what to drop (long runs, short runs and single records, sub revisions included),
// in batches of a small limit resumed where the last stopped; each dropped record's index
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
			visited[be] = append(visited[be], fmt.Sprintf("%v %x %v %q %q", r.Rev, enc, r.Tombstone, r.KV.Key, r.KV.Value))
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
		if got, want := indexList(d), recordList(d); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("below %d: index records and records differ:\n%v\n%v", step.to, got, want)
		}
		if want, _ := scanSize(d.db); d.Size() != want {
			t.Fatalf("below %d: size %d, a scan finds %d", step.to, d.Size(), want)
		}
	}
}

// TestSavedIndexDroppedByWrites: a saved key index survives a reopen untouched, and the first
// commit after it, or the first batch of a compaction, drops it in the same batch.
func TestSavedIndexDroppedByWrites(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for main := int64(2); main < 50; main++ {
		if err := d.Commit(&backend.Batch{Puts: []backend.Record{rec(main, 0, fmt.Sprint(main%7), "v")}}); err != nil {
			t.Fatal(err)
		}
	}
	save := func() {
		t.Helper()
		chunks := [][]byte{[]byte("header"), []byte("one"), make([]byte, 5<<20)} // more than a batch
		if err := d.SaveIndex(func() []byte {
			if len(chunks) == 0 {
				return nil
			}
			c := chunks[0]
			chunks = chunks[1:]
			return c
		}); err != nil {
			t.Fatal(err)
		}
	}
	loaded := func() (got []int, ok bool) {
		t.Helper()
		ok, err := d.LoadIndex(func(c []byte) error { got = append(got, len(c)); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return got, ok
	}
	if _, ok := loaded(); ok {
		t.Fatal("a saved index before any was saved")
	}
	save()
	d.Close()
	if d, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { d.Close() }()
	if got, ok := loaded(); !ok || fmt.Sprint(got) != fmt.Sprint([]int{6, 3, 5 << 20}) {
		t.Fatalf("after a reopen: saved index %v %v", got, ok)
	}
	if err := d.Commit(&backend.Batch{Meta: []backend.MetaEntry{{Key: "m", Value: []byte("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := loaded(); ok {
		t.Fatal("the saved index outlived a commit")
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, ok := loaded(); ok {
		t.Fatal("the saved index came back after a commit and a reopen")
	}
	save()
	if _, _, err := d.Prune(kv.Revision{}, 10, 100, func(*backend.Record, []byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if _, ok := loaded(); ok {
		t.Fatal("the saved index outlived a compaction's batch")
	}
}

// A database whose directory is gone cannot write out its memtables; commits would stall
// behind them for good. Fatal must hear of it rather than the member hanging (found by
// removing a running member's data dir: its writes timed out, and SIGTERM never ended it).
func TestFailedFlushIsFatal(t *testing.T) {
	dir := t.TempDir()
	fatal := make(chan error, 1)
	d, err := OpenWith(dir, Options{Fatal: func(err error) {
		select {
		case fatal <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Not closed: pebble goes on retrying the flush; the test binary's exit ends it.
	if err := d.Commit(&backend.Batch{Puts: []backend.Record{rec(2, 0, "a", "1")}}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	go d.Flush() // blocks while the flush keeps failing
	select {
	case err := <-fatal:
		t.Logf("fatal: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("a flush into a removed directory was not reported as fatal")
	}
}
