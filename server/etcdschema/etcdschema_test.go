package etcdschema

import (
	"bytes"
	"testing"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

func TestRevKey(t *testing.T) {
	for _, c := range []struct {
		rev  kv.Revision
		tomb bool
	}{{kv.Revision{Main: 2}, false}, {kv.Revision{Main: 1 << 40, Sub: 7}, true}} {
		k := RevKey(c.rev, c.tomb)
		if rev, tomb, ok := ParseRevKey(k); !ok || rev != c.rev || tomb != c.tomb {
			t.Fatalf("%x: %v %v %v, want %v %v", k, rev, tomb, ok, c.rev, c.tomb)
		}
	}
	for _, k := range [][]byte{nil, make([]byte, 17), append(RevKey(kv.Revision{Main: 2}, false), 'x')} {
		if _, _, ok := ParseRevKey(k); ok {
			t.Fatalf("%x parsed", k)
		}
	}
}

// FuzzEtcdValue holds the core's encoding of a record's value (backend.AppendEtcdValue, which
// HashKV hashes and etcdexport writes) to gogoproto's for mvccpb.KeyValue.
func FuzzEtcdValue(f *testing.F) {
	f.Add([]byte("k"), []byte("v"), int64(2), int64(3), int64(1), int64(0), false)
	f.Add([]byte("key"), []byte(nil), int64(1), int64(1<<40), int64(7), int64(-5), false)
	f.Add([]byte("gone"), []byte("v"), int64(2), int64(9), int64(4), int64(8), true)
	f.Fuzz(func(t *testing.T, key, value []byte, created, mod, version, lease int64, tomb bool) {
		r := &backend.Record{Rev: kv.Revision{Main: mod}, Tombstone: tomb, KV: kv.KeyValue{Key: key,
			CreateRevision: created, ModRevision: mod, Version: version, Value: value, Lease: lease}}
		want := mvccpb.KeyValue{Key: key}
		if !tomb {
			want = mvccpb.KeyValue{Key: key, CreateRevision: created, ModRevision: mod, Version: version,
				Value: value, Lease: lease}
		}
		wb, err := want.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := backend.AppendEtcdValue([]byte("prefix"), r); !bytes.Equal(got[6:], wb) || string(got[:6]) != "prefix" {
			t.Fatalf("%+v: %x, gogoproto %x", r, got, wb)
		}
	})
}
