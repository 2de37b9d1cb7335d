package backend

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/metastore/metastore/core/kv"
)

func encodingSeeds() [][]byte {
	var seeds [][]byte
	for _, r := range []Record{
		{Rev: kv.Revision{Main: 2}, KV: kv.KeyValue{Key: []byte("a"), Value: []byte("1"), CreateRevision: 2, ModRevision: 2, Version: 1}},
		{Rev: kv.Revision{Main: 9, Sub: 3}, KV: kv.KeyValue{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 300), CreateRevision: 4, ModRevision: 9, Version: 5, Lease: 77}},
		{Rev: kv.Revision{Main: 10}, Tombstone: true, KV: kv.KeyValue{Key: []byte("k"), ModRevision: 10}},
		{Rev: kv.Revision{Main: 3}, KV: kv.KeyValue{CreateRevision: 3, ModRevision: 3, Version: 1}},
	} {
		seeds = append(seeds, AppendRecord(nil, &r))
	}
	return seeds
}

// FuzzDecodeRecord: the slice decoder (disk reads, restarts) and the stream decoder
// (snapshots) agree on every input, with and without values, copied or viewed, and RecordKey (key and size) agrees with both;
// none panics.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range encodingSeeds() {
		f.Add(s)
		f.Add(s[:len(s)-1])
		f.Add(append(s, 0))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		full, err := DecodeRecord(b, true)
		rd := bytes.NewReader(b)
		stream, serr := ReadRecord(rd)
		if serr == nil && rd.Len() == 0 {
			if err != nil || !reflect.DeepEqual(full, stream) {
				t.Fatalf("DecodeRecord %+v %v; ReadRecord %+v", full, err, stream)
			}
		} else if err == nil {
			t.Fatalf("DecodeRecord took what ReadRecord refused (%v, %d bytes left): %+v", serr, rd.Len(), full)
		}
		index, ierr := DecodeRecord(b, false)
		if (ierr == nil) != (err == nil) {
			t.Fatalf("with values %v, without %v", err, ierr)
		}
		view, verr := DecodeRecordView(b)
		if (verr == nil) != (err == nil) {
			t.Fatalf("copied %v, viewed %v", err, verr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(view, full) {
			t.Fatalf("view %+v, copy %+v", view, full)
		}
		if index.KV.Value != nil {
			t.Fatal("the index decode copied the value")
		}
		index.KV.Value = full.KV.Value
		if !reflect.DeepEqual(index, full) {
			t.Fatalf("index decode %+v, full %+v", index, full)
		}
		if k, n, ok := RecordKey(b); !ok || !bytes.Equal(k, full.KV.Key) || n != len(full.KV.Key)+len(full.KV.Value) {
			t.Fatalf("RecordKey %q %d %v for %+v", k, n, ok, full)
		}
		// (Varints may come non-minimal: b itself need not be AppendRecord's bytes.)
		if again, err := DecodeRecord(AppendRecord(nil, &full), true); err != nil || !reflect.DeepEqual(again, full) {
			t.Fatalf("re-encoded and decoded %+v %v, was %+v", again, err, full)
		}
	})
}
