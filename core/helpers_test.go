package core

import (
	"testing"
	"time"

	"github.com/metastore/metastore/core/clock"
)

// newTestStore returns a fresh store on a manual clock, closed when the test ends.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := New(Config{Clock: clock.NewManual(time.Unix(1_700_000_000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustPut(t testing.TB, s *Store, key, value string) *PutResponse {
	t.Helper()
	r, err := s.Put(&PutRequest{Key: []byte(key), Value: []byte(value)})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return r
}

// wantStatus checks that err maps to etcd's code and message.
func wantStatus(t testing.TB, err error, code Code, msg string) {
	t.Helper()
	gc, gm := Status(err)
	if gc != code || gm != msg {
		t.Fatalf("error %v: got (%d, %q), want (%d, %q)", err, gc, gm, code, msg)
	}
}

func keys(kvs []kvT) []string {
	out := make([]string, len(kvs))
	for i := range kvs {
		out[i] = string(kvs[i].Key)
	}
	return out
}
