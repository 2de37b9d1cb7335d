package etcdschema

import (
	"testing"

	"github.com/metastore/metastore/core/kv"
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
