package core

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
)

// The auth store is state beside the keyspace: changes persist across a reopen and travel in
// snapshots, a failed change leaves no trace, and none of it shows up as keys.
func TestAuthStoreIsState(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	b := backend.NewMemory()
	s := openOn(t, b, clk)
	hash, err := auth.HashPassword("secret", 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		fn   func(st *auth.State) error
		want error
	}{
		{"add root", func(st *auth.State) error { return st.UserAdd("root", hash, false) }, nil},
		{"grant root", func(st *auth.State) error { return st.UserGrantRole("root", "root") }, nil},
		{"add role", func(st *auth.State) error { return st.RoleAdd("reader") }, nil},
		{"grant perm", func(st *auth.State) error {
			return st.RoleGrantPermission("reader", &auth.Permission{Type: auth.Read, Key: []byte("a"), RangeEnd: []byte("b")})
		}, nil},
		{"duplicate role", func(st *auth.State) error { return st.RoleAdd("reader") }, auth.ErrRoleAlreadyExist},
		{"enable", func(st *auth.State) error { return st.Enable() }, nil},
		// etcd takes any bytes for names, not only UTF-8.
		{"odd name", func(st *auth.State) error { return st.UserAdd("\xff\xfeodd", nil, true) }, nil},
	} {
		if err := s.AuthUpdate(step.fn); !errors.Is(err, step.want) {
			t.Fatalf("%s: %v, want %v", step.name, err, step.want)
		}
	}
	// A change that fails part-way leaves nothing behind.
	if err := s.AuthUpdate(func(st *auth.State) error {
		st.RoleAdd("half")
		return errors.New("refused")
	}); err == nil {
		t.Fatal("a failing change was accepted")
	}
	check := func(s *Store, when string) {
		t.Helper()
		s.AuthView(func(st *auth.State) {
			if !st.Enabled || st.Revision != 6 || st.Roles["half"] != nil || st.Roles["reader"] == nil || st.Users["\xff\xfeodd"] == nil {
				t.Fatalf("%s: enabled %v, revision %d, roles %v", when, st.Enabled, st.Revision, st.RoleList())
			}
		})
		if rev, err := s.CheckPassword("root", "secret"); err != nil || rev != 6 {
			t.Fatalf("%s: root's password: revision %d, %v", when, rev, err)
		}
		if _, err := s.CheckPassword("root", "wrong"); !errors.Is(err, auth.ErrAuthFailed) {
			t.Fatalf("%s: a wrong password: %v", when, err)
		}
		r, err := s.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
		if err != nil || len(r.Kvs) != 0 {
			t.Fatalf("%s: the auth store shows in the keyspace: %v %v", when, r, err)
		}
	}
	check(s, "in place")
	var snap bytes.Buffer
	if err := s.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openOn(t, b, clk)
	defer s.Close()
	check(s, "after a reopen")
	r, err := Restore(&snap, Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check(r, "restored from a snapshot")
}
