package auth

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
)

// The tests follow docs/research/etcd-auth.md (§1, §2.3, §2.4, §4.1, §4.2, §6); the section
// numbers in the comments are that file's.

func p(t PermType, key, end string) Permission {
	perm := Permission{Type: t, Key: []byte(key)}
	if end != "" {
		perm.RangeEnd = []byte(end)
	}
	return perm
}

func pp(t PermType, key, end string) *Permission {
	perm := p(t, key, end)
	return &perm
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hash is a bcrypt hash at cost 4, to keep the tests fast.
func hash(t *testing.T, pw string) []byte {
	t.Helper()
	h, err := HashPassword(pw, 4)
	must(t, err)
	return h
}

// rootState is a disabled store with user root holding role root (no role record).
func rootState(t *testing.T) *State {
	t.Helper()
	s := New()
	must(t, s.UserAdd(root, []byte("h"), false))
	must(t, s.UserGrantRole(root, root))
	return s
}

// enabledState is rootState enabled.
func enabledState(t *testing.T) *State {
	t.Helper()
	s := rootState(t)
	must(t, s.Enable())
	return s
}

func TestFresh(t *testing.T) {
	s := New()
	if s.Enabled || s.Revision != 1 {
		t.Fatalf("fresh store: enabled %v revision %d, want false 1", s.Enabled, s.Revision)
	}
	if len(s.UserList()) != 0 || len(s.RoleList()) != 0 {
		t.Fatalf("fresh store has users %q roles %q", s.UserList(), s.RoleList())
	}
}

func TestEnable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *State)
		want  error
	}{
		{"no root user", func(t *testing.T, s *State) {}, ErrRootUserNotExist},
		{"only another user with role root", func(t *testing.T, s *State) {
			must(t, s.UserAdd("admin", nil, true))
			must(t, s.UserGrantRole("admin", root))
		}, ErrRootUserNotExist},
		{"root lacks role root", func(t *testing.T, s *State) {
			must(t, s.UserAdd(root, nil, false))
		}, ErrRootRoleNotExist},
		{"root has another role", func(t *testing.T, s *State) {
			must(t, s.UserAdd(root, nil, false))
			must(t, s.RoleAdd("r"))
			must(t, s.UserGrantRole(root, "r"))
		}, ErrRootRoleNotExist},
		{"role root record exists but is not granted", func(t *testing.T, s *State) {
			must(t, s.UserAdd(root, nil, false))
			must(t, s.RoleAdd(root))
		}, ErrRootRoleNotExist},
		{"root granted root without a role record", func(t *testing.T, s *State) {
			must(t, s.UserAdd(root, nil, false))
			must(t, s.UserGrantRole(root, root))
		}, nil},
		{"root granted root with a role record", func(t *testing.T, s *State) {
			must(t, s.UserAdd(root, nil, false))
			must(t, s.RoleAdd(root))
			must(t, s.UserGrantRole(root, root))
		}, nil},
		{"role root deleted while disabled strips it from root", func(t *testing.T, s *State) {
			must(t, s.UserAdd(root, nil, false))
			must(t, s.RoleAdd(root))
			must(t, s.UserGrantRole(root, root))
			must(t, s.RoleDelete(root))
		}, ErrRootRoleNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			tc.setup(t, s)
			rev := s.Revision
			if err := s.Enable(); err != tc.want {
				t.Fatalf("Enable: %v, want %v", err, tc.want)
			}
			if s.Enabled != (tc.want == nil) {
				t.Fatalf("enabled = %v after Enable returned %v", s.Enabled, tc.want)
			}
			if s.Revision != rev {
				t.Fatalf("Enable changed the revision %d → %d", rev, s.Revision)
			}
		})
	}
}

func TestEnableDisable(t *testing.T) {
	s := rootState(t) // revision 3: UserAdd, UserGrantRole
	steps := []struct {
		name    string
		op      func() error
		enabled bool
		rev     uint64
	}{
		{"start", func() error { return nil }, false, 3},
		{"disable while disabled is a no-op", func() error { s.Disable(); return nil }, false, 3},
		{"enable", s.Enable, true, 3},
		{"enable while enabled is a no-op", s.Enable, true, 3},
		{"disable bumps", func() error { s.Disable(); return nil }, false, 4},
		{"disable again is a no-op", func() error { s.Disable(); return nil }, false, 4},
		{"enable again", s.Enable, true, 4},
		{"disable bumps again", func() error { s.Disable(); return nil }, false, 5},
	}
	for _, st := range steps {
		must(t, st.op())
		if s.Enabled != st.enabled || s.Revision != st.rev {
			t.Fatalf("%s: enabled %v revision %d, want %v %d", st.name, s.Enabled, s.Revision, st.enabled, st.rev)
		}
	}

	// Already enabled: no-op even though root no longer qualifies (only reachable by
	// editing the state, but it shows the order of the checks).
	s = enabledState(t)
	delete(s.Users, root)
	if err := s.Enable(); err != nil {
		t.Fatalf("Enable while enabled checked the root user: %v", err)
	}
}

// TestRevisionSequence is §1.3: +1 on each successful mutation, nothing on failures, on the
// no-op grant, on Enable, on checks and reads.
func TestRevisionSequence(t *testing.T) {
	s := New()
	steps := []struct {
		name string
		op   func() error
		err  error
		rev  uint64
	}{
		{"UserAdd root", func() error { return s.UserAdd(root, hash(t, "pw"), false) }, nil, 2},
		{"UserAdd root again", func() error { return s.UserAdd(root, nil, false) }, ErrUserAlreadyExist, 2},
		{"UserAdd empty", func() error { return s.UserAdd("", nil, false) }, ErrUserEmpty, 2},
		{"RoleAdd r", func() error { return s.RoleAdd("r") }, nil, 3},
		{"RoleAdd r again", func() error { return s.RoleAdd("r") }, ErrRoleAlreadyExist, 3},
		{"UserGrantRole root root", func() error { return s.UserGrantRole(root, root) }, nil, 4},
		{"UserGrantRole root root again", func() error { return s.UserGrantRole(root, root) }, nil, 4},
		{"Enable", s.Enable, nil, 4},
		{"Enable again", s.Enable, nil, 4},
		{"CheckPassword", func() error { _, err := s.CheckPassword(root, "pw"); return err }, nil, 4},
		{"UserAdd alice", func() error { return s.UserAdd("alice", nil, true) }, nil, 5},
		{"UserGrantRole alice r", func() error { return s.UserGrantRole("alice", "r") }, nil, 6},
		{"UserGrantRole alice r again", func() error { return s.UserGrantRole("alice", "r") }, nil, 6},
		{"UserGrantRole alice missing", func() error { return s.UserGrantRole("alice", "missing") }, ErrRoleNotFound, 6},
		{"UserGet", func() error { _, err := s.UserGet("alice"); return err }, nil, 6},
		{"RoleGet", func() error { _, err := s.RoleGet("r"); return err }, nil, 6},
		{"grant [a,c) READ", func() error { return s.RoleGrantPermission("r", pp(Read, "a", "c")) }, nil, 7},
		{"grant [a,c) READ again (no change, still bumps)", func() error { return s.RoleGrantPermission("r", pp(Read, "a", "c")) }, nil, 8},
		{"grant [a,c) WRITE (type change only)", func() error { return s.RoleGrantPermission("r", pp(Write, "a", "c")) }, nil, 9},
		{"grant invalid range", func() error { return s.RoleGrantPermission("r", pp(Read, "c", "a")) }, ErrInvalidAuthMgmt, 9},
		{"grant nil", func() error { return s.RoleGrantPermission("r", nil) }, ErrPermissionNotGiven, 9},
		{"Permitted", func() error { return s.Permitted("alice", s.Revision, []byte("a"), nil, AccessWrite) }, nil, 9},
		{"revoke sub-range", func() error { return s.RoleRevokePermission("r", []byte("a"), []byte("b")) }, ErrPermissionNotGranted, 9},
		{"revoke [a,c)", func() error { return s.RoleRevokePermission("r", []byte("a"), []byte("c")) }, nil, 10},
		{"UserChangePassword alice", func() error { return s.UserChangePassword("alice", []byte("x")) }, nil, 11},
		{"UserChangePassword missing", func() error { return s.UserChangePassword("bob", []byte("x")) }, ErrUserNotFound, 11},
		{"UserRevokeRole alice r", func() error { return s.UserRevokeRole("alice", "r") }, nil, 12},
		{"UserRevokeRole alice r again", func() error { return s.UserRevokeRole("alice", "r") }, ErrRoleNotGranted, 12},
		{"UserRevokeRole root root", func() error { return s.UserRevokeRole(root, root) }, ErrInvalidAuthMgmt, 12},
		{"UserDelete root", func() error { return s.UserDelete(root) }, ErrInvalidAuthMgmt, 12},
		{"RoleDelete root", func() error { return s.RoleDelete(root) }, ErrInvalidAuthMgmt, 12},
		{"RoleDelete r", func() error { return s.RoleDelete("r") }, nil, 13},
		{"RoleDelete r again", func() error { return s.RoleDelete("r") }, ErrRoleNotFound, 13},
		{"UserDelete alice", func() error { return s.UserDelete("alice") }, nil, 14},
		{"Disable", func() error { s.Disable(); return nil }, nil, 15},
		{"Disable again", func() error { s.Disable(); return nil }, nil, 15},
		{"UserRevokeRole root root while disabled", func() error { return s.UserRevokeRole(root, root) }, nil, 16},
		{"Enable without role root", s.Enable, ErrRootRoleNotExist, 16},
		{"UserDelete root while disabled", func() error { return s.UserDelete(root) }, nil, 17},
	}
	for _, st := range steps {
		if err := st.op(); err != st.err {
			t.Fatalf("%s: %v, want %v", st.name, err, st.err)
		}
		if s.Revision != st.rev {
			t.Fatalf("%s: revision %d, want %d", st.name, s.Revision, st.rev)
		}
	}
}

// TestErrors is every error of §2.3, in the documented order of the checks. A failed
// request changes nothing, the revision included.
func TestErrors(t *testing.T) {
	// base: disabled; users root (role root, no role record), alice (role r); role r with
	// [a,c) READ; role other (held by nobody).
	base := func(t *testing.T) *State {
		s := rootState(t)
		must(t, s.UserAdd("alice", []byte("h"), false))
		must(t, s.RoleAdd("r"))
		must(t, s.RoleAdd("other"))
		must(t, s.UserGrantRole("alice", "r"))
		must(t, s.RoleGrantPermission("r", pp(Read, "a", "c")))
		return s
	}
	enabled := func(t *testing.T) *State {
		s := base(t)
		must(t, s.Enable())
		return s
	}
	for _, tc := range []struct {
		name  string
		state func(t *testing.T) *State
		op    func(s *State) error
		want  error
	}{
		// UserAdd
		{"UserAdd empty", base, func(s *State) error { return s.UserAdd("", nil, false) }, ErrUserEmpty},
		{"UserAdd exists", base, func(s *State) error { return s.UserAdd("alice", nil, false) }, ErrUserAlreadyExist},
		{"UserAdd root exists", enabled, func(s *State) error { return s.UserAdd(root, nil, true) }, ErrUserAlreadyExist},

		// UserDelete
		{"UserDelete root while enabled", enabled, func(s *State) error { return s.UserDelete(root) }, ErrInvalidAuthMgmt},
		{"UserDelete root while enabled, before existence", func(t *testing.T) *State {
			s := enabled(t)
			delete(s.Users, root) // unreachable by requests; shows which check comes first
			return s
		}, func(s *State) error { return s.UserDelete(root) }, ErrInvalidAuthMgmt},
		{"UserDelete missing", base, func(s *State) error { return s.UserDelete("bob") }, ErrUserNotFound},
		{"UserDelete missing while enabled", enabled, func(s *State) error { return s.UserDelete("bob") }, ErrUserNotFound},
		{"UserDelete root while disabled", base, func(s *State) error { return s.UserDelete(root) }, nil},
		{"UserDelete self as non-root admin", func(t *testing.T) *State {
			s := enabled(t)
			must(t, s.UserGrantRole("alice", root))
			return s
		}, func(s *State) error { return s.UserDelete("alice") }, nil},

		// UserChangePassword
		{"UserChangePassword missing", base, func(s *State) error { return s.UserChangePassword("bob", []byte("x")) }, ErrUserNotFound},

		// UserGrantRole
		{"UserGrantRole missing user before missing role", base, func(s *State) error { return s.UserGrantRole("bob", "missing") }, ErrUserNotFound},
		{"UserGrantRole missing role", base, func(s *State) error { return s.UserGrantRole("alice", "missing") }, ErrRoleNotFound},
		{"UserGrantRole root without a record", base, func(s *State) error { return s.UserGrantRole("alice", root) }, nil},

		// UserRevokeRole
		{"UserRevokeRole root root while enabled", enabled, func(s *State) error { return s.UserRevokeRole(root, root) }, ErrInvalidAuthMgmt},
		{"UserRevokeRole root root while enabled, before existence", func(t *testing.T) *State {
			s := enabled(t)
			delete(s.Users, root)
			return s
		}, func(s *State) error { return s.UserRevokeRole(root, root) }, ErrInvalidAuthMgmt},
		{"UserRevokeRole root root while disabled", base, func(s *State) error { return s.UserRevokeRole(root, root) }, nil},
		{"UserRevokeRole another role from root while enabled", func(t *testing.T) *State {
			s := enabled(t)
			must(t, s.UserGrantRole(root, "r"))
			return s
		}, func(s *State) error { return s.UserRevokeRole(root, "r") }, nil},
		{"UserRevokeRole root from another user while enabled", func(t *testing.T) *State {
			s := enabled(t)
			must(t, s.UserGrantRole("alice", root))
			return s
		}, func(s *State) error { return s.UserRevokeRole("alice", root) }, nil},
		{"UserRevokeRole missing user", base, func(s *State) error { return s.UserRevokeRole("bob", "r") }, ErrUserNotFound},
		{"UserRevokeRole existing role not held", base, func(s *State) error { return s.UserRevokeRole("alice", "other") }, ErrRoleNotGranted},
		{"UserRevokeRole role that does not exist", base, func(s *State) error { return s.UserRevokeRole("alice", "missing") }, ErrRoleNotGranted},

		// UserGet
		{"UserGet missing", base, func(s *State) error { _, err := s.UserGet("bob"); return err }, ErrUserNotFound},
		{"UserGet empty", base, func(s *State) error { _, err := s.UserGet(""); return err }, ErrUserNotFound},

		// RoleAdd
		{"RoleAdd empty", base, func(s *State) error { return s.RoleAdd("") }, ErrRoleEmpty},
		{"RoleAdd exists", base, func(s *State) error { return s.RoleAdd("r") }, ErrRoleAlreadyExist},
		{"RoleAdd root", enabled, func(s *State) error { return s.RoleAdd(root) }, nil},

		// RoleDelete
		{"RoleDelete root while enabled, no record", enabled, func(s *State) error { return s.RoleDelete(root) }, ErrInvalidAuthMgmt},
		{"RoleDelete root while disabled, no record", base, func(s *State) error { return s.RoleDelete(root) }, ErrRoleNotFound},
		{"RoleDelete missing", enabled, func(s *State) error { return s.RoleDelete("missing") }, ErrRoleNotFound},

		// RoleGet
		{"RoleGet missing", base, func(s *State) error { _, err := s.RoleGet("missing"); return err }, ErrRoleNotFound},
		{"RoleGet root without a record", enabled, func(s *State) error { _, err := s.RoleGet(root); return err }, ErrRoleNotFound},

		// RoleGrantPermission
		{"grant nil perm to a missing role", base, func(s *State) error { return s.RoleGrantPermission("missing", nil) }, ErrPermissionNotGiven},
		{"grant nil perm", base, func(s *State) error { return s.RoleGrantPermission("r", nil) }, ErrPermissionNotGiven},
		{"grant empty key", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "", "")) }, ErrInvalidAuthMgmt},
		{"grant empty key from-key", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "", "\x00")) }, ErrInvalidAuthMgmt},
		{"grant empty key range", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "", "b")) }, ErrInvalidAuthMgmt},
		{"grant [b,a)", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "b", "a")) }, ErrInvalidAuthMgmt},
		{"grant [a,a)", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "a", "a")) }, ErrInvalidAuthMgmt},
		{"grant [a,\\x00\\x00)", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "a", "\x00\x00")) }, ErrInvalidAuthMgmt},
		{"grant invalid range to a missing role", base, func(s *State) error { return s.RoleGrantPermission("missing", pp(Read, "b", "a")) }, ErrInvalidAuthMgmt},
		{"grant valid range to a missing role", base, func(s *State) error { return s.RoleGrantPermission("missing", pp(Read, "a", "b")) }, ErrRoleNotFound},
		{"grant from-key", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "a", "\x00")) }, nil},
		{"grant all keys", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "\x00", "\x00")) }, nil},
		{"grant single \\x00", base, func(s *State) error { return s.RoleGrantPermission("r", pp(Read, "\x00", "")) }, nil},
		{"grant unknown type", base, func(s *State) error { return s.RoleGrantPermission("r", pp(7, "x", "")) }, nil},
		{"grant to the root role record", func(t *testing.T) *State {
			s := base(t)
			must(t, s.RoleAdd(root))
			return s
		}, func(s *State) error { return s.RoleGrantPermission(root, pp(Read, "x", "")) }, nil},

		// RoleRevokePermission
		{"revoke from a missing role", base, func(s *State) error { return s.RoleRevokePermission("missing", []byte("a"), []byte("c")) }, ErrRoleNotFound},
		{"revoke sub-range", base, func(s *State) error { return s.RoleRevokePermission("r", []byte("a"), []byte("b")) }, ErrPermissionNotGranted},
		{"revoke different range_end", base, func(s *State) error { return s.RoleRevokePermission("r", []byte("a"), []byte("d")) }, ErrPermissionNotGranted},
		{"revoke the single key of a range", base, func(s *State) error { return s.RoleRevokePermission("r", []byte("a"), nil) }, ErrPermissionNotGranted},
		{"revoke from-key of a range", base, func(s *State) error { return s.RoleRevokePermission("r", []byte("a"), []byte{0}) }, ErrPermissionNotGranted},
		{"revoke from a role with no perms", base, func(s *State) error { return s.RoleRevokePermission("other", []byte("a"), []byte("c")) }, ErrPermissionNotGranted},
		{"revoke exact", base, func(s *State) error { return s.RoleRevokePermission("r", []byte("a"), []byte("c")) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.state(t)
			before := s.Clone()
			err := tc.op(s)
			if err != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil {
				if !reflect.DeepEqual(s.Clone(), before) {
					t.Fatalf("a failed request changed the state:\n%+v\nwant\n%+v", s, before)
				}
				return
			}
			if s.Revision != before.Revision+1 {
				t.Fatalf("revision %d after a successful change from %d", s.Revision, before.Revision)
			}
		})
	}
}

func TestRoleRevokePermission(t *testing.T) {
	s := New()
	must(t, s.RoleAdd("r"))
	for _, perm := range []Permission{
		p(Read, "k", ""), p(Read, "k", "l"), p(Write, "k", "l"), // [k,l) twice by the merge rule
		p(ReadWrite, "a", "c"), p(Read, "k", "m"),
	} {
		must(t, s.RoleGrantPermission("r", &perm))
	}
	got, _ := s.RoleGet("r")
	want := []Permission{p(ReadWrite, "a", "c"), p(Read, "k", ""), p(Read, "k", "l"), p(Write, "k", "l"), p(Read, "k", "m")}
	if !permsEqual(got, want) {
		t.Fatalf("before revoke: %v, want %v", got, want)
	}
	rev := s.Revision
	for _, tc := range []struct {
		key, end string
		want     error
	}{
		{"k", "kz", ErrPermissionNotGranted},   // a sub-range of [k,l)
		{"k", "\x00", ErrPermissionNotGranted}, // different range_end
		{"b", "c", ErrPermissionNotGranted},
		{"j", "", ErrPermissionNotGranted},
	} {
		if err := s.RoleRevokePermission("r", []byte(tc.key), []byte(tc.end)); err != tc.want {
			t.Fatalf("revoke [%q,%q): %v, want %v", tc.key, tc.end, err, tc.want)
		}
	}
	if s.Revision != rev {
		t.Fatalf("failed revokes bumped the revision")
	}
	must(t, s.RoleRevokePermission("r", []byte("k"), []byte("l")))
	if s.Revision != rev+1 {
		t.Fatalf("revision %d, want one bump to %d", s.Revision, rev+1)
	}
	got, _ = s.RoleGet("r")
	want = []Permission{p(ReadWrite, "a", "c"), p(Read, "k", ""), p(Read, "k", "m")}
	if !permsEqual(got, want) {
		t.Fatalf("revoking [k,l) should remove both duplicates: %v, want %v", got, want)
	}
	// nil and empty range_end are the same (the single key), whatever the type.
	must(t, s.RoleRevokePermission("r", []byte("k"), []byte{}))
	got, _ = s.RoleGet("r")
	want = []Permission{p(ReadWrite, "a", "c"), p(Read, "k", "m")}
	if !permsEqual(got, want) {
		t.Fatalf("after revoking k: %v, want %v", got, want)
	}
}

func TestRoleDeleteInUse(t *testing.T) {
	s := New()
	for _, r := range []string{"a", "b", "c"} {
		must(t, s.RoleAdd(r))
	}
	must(t, s.RoleGrantPermission("b", pp(ReadWrite, "k", "")))
	must(t, s.UserAdd("u1", nil, true))
	must(t, s.UserAdd("u2", nil, true))
	must(t, s.UserAdd("u3", nil, true))
	for _, g := range [][2]string{{"u1", "a"}, {"u1", "b"}, {"u1", "c"}, {"u2", "b"}, {"u3", "c"}} {
		must(t, s.UserGrantRole(g[0], g[1]))
	}
	rev := s.Revision
	must(t, s.RoleDelete("b"))
	if s.Revision != rev+1 {
		t.Fatalf("RoleDelete: revision %d, want a single bump to %d", s.Revision, rev+1)
	}
	for user, want := range map[string][]string{"u1": {"a", "c"}, "u2": {}, "u3": {"c"}} {
		got, err := s.UserGet(user)
		must(t, err)
		if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
			t.Errorf("UserGet %s: %q, want %q", user, got, want)
		}
	}
	if got := s.RoleList(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("RoleList: %q", got)
	}
	// Re-adding the role does not give it back to anyone.
	must(t, s.RoleAdd("b"))
	must(t, s.RoleGrantPermission("b", pp(ReadWrite, "k", "")))
	s.Enabled = true
	if err := s.Permitted("u2", s.Revision, []byte("k"), nil, AccessRead); err != ErrPermissionDenied {
		t.Fatalf("u2 after its role was deleted and re-added: %v", err)
	}
}

func TestRoleGetRoot(t *testing.T) {
	s := New()
	must(t, s.RoleAdd(root))
	want := []Permission{{Type: ReadWrite, Key: []byte{}, RangeEnd: []byte{0}}}
	check := func(when string) {
		t.Helper()
		got, err := s.RoleGet(root)
		must(t, err)
		if !permsEqual(got, want) || len(got[0].Key) != 0 {
			t.Fatalf("%s: RoleGet root = %v, want %v", when, got, want)
		}
	}
	check("fresh")
	must(t, s.RoleGrantPermission(root, pp(Read, "a", "b")))
	must(t, s.RoleGrantPermission(root, pp(Write, "x", "")))
	check("after grants")
	// The stored perms are still there: they can be revoked.
	must(t, s.RoleRevokePermission(root, []byte("a"), []byte("b")))
	check("after a revoke")
	if err := s.RoleRevokePermission(root, []byte("a"), []byte("b")); err != ErrPermissionNotGranted {
		t.Fatalf("second revoke: %v", err)
	}
	// Without the record there is nothing to get, even for a user holding role root.
	must(t, s.RoleDelete(root))
	if _, err := s.RoleGet(root); err != ErrRoleNotFound {
		t.Fatalf("RoleGet root without a record: %v", err)
	}
}

func TestListsSorted(t *testing.T) {
	s := New()
	names := []string{"b", "a", "B", "\x01", "root", "ab", "é", "a\x00", "zz", "~"}
	for _, n := range names {
		must(t, s.UserAdd(n, nil, true))
		must(t, s.RoleAdd(n))
	}
	want := slices.Clone(names)
	sort.Slice(want, func(i, j int) bool { return bytes.Compare([]byte(want[i]), []byte(want[j])) < 0 })
	if got := s.UserList(); !slices.Equal(got, want) {
		t.Fatalf("UserList: %q, want %q", got, want)
	}
	if got := s.RoleList(); !slices.Equal(got, want) {
		t.Fatalf("RoleList: %q, want %q", got, want)
	}
}

func TestUserRolesSorted(t *testing.T) {
	s := New()
	must(t, s.UserAdd("u", nil, true))
	roles := []string{"zz", "b", "\x01", "B", "é", "a", "ab"}
	for _, r := range roles {
		must(t, s.RoleAdd(r))
	}
	for _, r := range append(roles, root) {
		must(t, s.UserGrantRole("u", r))
	}
	want := append(slices.Clone(roles), root)
	sort.Slice(want, func(i, j int) bool { return bytes.Compare([]byte(want[i]), []byte(want[j])) < 0 })
	got, err := s.UserGet("u")
	must(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("UserGet roles %q, want %q", got, want)
	}
	// Revoking keeps the order; granting again re-inserts in place.
	must(t, s.UserRevokeRole("u", "b"))
	must(t, s.UserGrantRole("u", "b"))
	if got, _ := s.UserGet("u"); !slices.Equal(got, want) {
		t.Fatalf("after revoke and grant: %q, want %q", got, want)
	}
	// The result is a copy.
	got[0] = "mutated"
	if again, _ := s.UserGet("u"); again[0] == "mutated" {
		t.Fatal("UserGet returned the stored slice")
	}
}

// TestRoleListHidesFF: etcd lists roles by a range [0x00, 0xff) over its bucket, so a role
// whose name starts with byte 0xff exists (RoleGet finds it) but is never listed (§1.3).
func TestRoleListHidesFF(t *testing.T) {
	s := New()
	for _, n := range []string{"\xff", "\xfe\xff", "\xff\x00", "a"} {
		must(t, s.RoleAdd(n))
		must(t, s.UserAdd(n, nil, true))
	}
	if got, want := s.RoleList(), []string{"a", "\xfe\xff"}; !slices.Equal(got, want) {
		t.Fatalf("RoleList %q, want %q", got, want)
	}
	if got, want := s.UserList(), []string{"a", "\xfe\xff", "\xff", "\xff\x00"}; !slices.Equal(got, want) {
		t.Fatalf("UserList %q, want %q", got, want)
	}
	if _, err := s.RoleGet("\xff"); err != nil {
		t.Fatalf("RoleGet \\xff: %v", err)
	}
}

func permsEqual(a, b []Permission) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || !bytes.Equal(a[i].Key, b[i].Key) || !bytes.Equal(a[i].RangeEnd, b[i].RangeEnd) {
			return false
		}
	}
	return true
}

// TestMergeRule is §2.4: only the first permission with an equal key is compared; an equal
// range end overwrites the type (never OR-merges), otherwise the permission is appended.
func TestMergeRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		grants []Permission
		want   []Permission
	}{
		{"duplicates", []Permission{p(ReadWrite, "k", ""), p(Read, "k", "l"), p(Write, "k", "l")},
			[]Permission{p(ReadWrite, "k", ""), p(Read, "k", "l"), p(Write, "k", "l")}},
		{"downgrade", []Permission{p(ReadWrite, "a", "c"), p(Read, "a", "c")},
			[]Permission{p(Read, "a", "c")}},
		{"upgrade", []Permission{p(Read, "a", "c"), p(ReadWrite, "a", "c")},
			[]Permission{p(ReadWrite, "a", "c")}},
		{"overwrite the first of equal keys", []Permission{p(Read, "k", "l"), p(Read, "k", ""), p(Write, "k", "l")},
			[]Permission{p(Write, "k", "l"), p(Read, "k", "")}},
		{"no interval merging", []Permission{p(Read, "a", "c"), p(Read, "b", "d"), p(Read, "c", "e")},
			[]Permission{p(Read, "a", "c"), p(Read, "b", "d"), p(Read, "c", "e")}},
		{"sorted by key", []Permission{p(Read, "c", ""), p(Write, "a", "b"), p(Read, "b", "\x00"), p(Read, "\x00", "\x00")},
			[]Permission{p(Read, "\x00", "\x00"), p(Write, "a", "b"), p(Read, "b", "\x00"), p(Read, "c", "")}},
		{"equal keys keep the order of granting", []Permission{p(Read, "k", "m"), p(Read, "a", ""), p(Read, "k", "l"), p(Read, "k", "\x00"), p(Read, "k", "")},
			[]Permission{p(Read, "a", ""), p(Read, "k", "m"), p(Read, "k", "l"), p(Read, "k", "\x00"), p(Read, "k", "")}},
		{"type of unknown value is stored", []Permission{p(7, "k", "")},
			[]Permission{p(7, "k", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			must(t, s.RoleAdd("r"))
			for i, g := range tc.grants {
				must(t, s.RoleGrantPermission("r", &g))
				if s.Revision != uint64(3+i) {
					t.Fatalf("grant %d: revision %d, want %d", i, s.Revision, 3+i)
				}
			}
			got, _ := s.RoleGet("r")
			if !permsEqual(got, tc.want) {
				t.Fatalf("RoleGet %v, want %v", got, tc.want)
			}
		})
	}

	// The downgrade takes effect: [a,c) READWRITE re-granted as READ no longer allows writes.
	s := New()
	must(t, s.UserAdd(root, nil, true))
	must(t, s.UserGrantRole(root, root))
	must(t, s.UserAdd("u", nil, true))
	must(t, s.RoleAdd("r"))
	must(t, s.UserGrantRole("u", "r"))
	must(t, s.RoleGrantPermission("r", pp(ReadWrite, "a", "c")))
	must(t, s.RoleGrantPermission("r", pp(Read, "a", "c")))
	must(t, s.Enable())
	if err := s.Permitted("u", s.Revision, []byte("b"), nil, AccessWrite); err != ErrPermissionDenied {
		t.Fatalf("write after the downgrade: %v", err)
	}
	if err := s.Permitted("u", s.Revision, []byte("b"), nil, AccessRead); err != nil {
		t.Fatalf("read after the downgrade: %v", err)
	}

	// The role keeps its own copy of the granted key.
	g := pp(Read, "k", "l")
	must(t, s.RoleGrantPermission("r", g))
	g.Key[0], g.RangeEnd[0] = 'x', 'y'
	if got, _ := s.RoleGet("r"); !permsEqual(got, []Permission{p(Read, "a", "c"), p(Read, "k", "l")}) {
		t.Fatalf("the role shares the caller's bytes: %v", got)
	}
}

// etcdPerm and etcdPerms are etcd's RoleGrantPermission on its own types (auth/store.go,
// permSlice): the order of equal keys is whatever sort.Sort leaves, which is the granting
// order only up to 12 entries (insertion sort), and that order decides which entry a later
// grant overwrites.
type etcdPerm struct {
	typ      PermType
	key, end []byte
}

type etcdPerms []*etcdPerm

func (ps etcdPerms) Len() int           { return len(ps) }
func (ps etcdPerms) Less(i, j int) bool { return bytes.Compare(ps[i].key, ps[j].key) < 0 }
func (ps etcdPerms) Swap(i, j int)      { ps[i], ps[j] = ps[j], ps[i] }

func (ps *etcdPerms) grant(perm Permission) {
	l := *ps
	idx := sort.Search(len(l), func(i int) bool { return bytes.Compare(l[i].key, perm.Key) >= 0 })
	if idx < len(l) && bytes.Equal(l[idx].key, perm.Key) && bytes.Equal(l[idx].end, perm.RangeEnd) {
		l[idx].typ = perm.Type
		return
	}
	*ps = append(l, &etcdPerm{perm.Type, perm.Key, perm.RangeEnd})
	sort.Sort(*ps)
}

func TestMergeRuleLongLists(t *testing.T) {
	keys := []string{"a", "k", "k", "k", "m"}
	ends := []string{"", "\x00", "z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9"}
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := New()
		must(t, s.RoleAdd("r"))
		var ref etcdPerms
		for i := 0; i < 60; i++ {
			perm := p(PermType(rng.IntN(3)), keys[rng.IntN(len(keys))], ends[rng.IntN(len(ends))])
			must(t, s.RoleGrantPermission("r", &perm))
			ref.grant(perm)
			got, _ := s.RoleGet("r")
			want := make([]Permission, len(ref))
			for j, e := range ref {
				want[j] = Permission{Type: e.typ, Key: e.key, RangeEnd: e.end}
			}
			if !permsEqual(got, want) {
				t.Fatalf("seed %d, grant %d (%d perms): got\n%v\netcd has\n%v", seed, i, len(want), got, want)
			}
		}
	}
}

func TestIsAdmin(t *testing.T) {
	s := enabledState(t)
	must(t, s.UserAdd("alice", nil, true))
	must(t, s.UserAdd("admin", nil, true))
	must(t, s.UserGrantRole("admin", root))
	must(t, s.RoleAdd("r"))
	must(t, s.UserGrantRole("alice", "r"))
	for _, tc := range []struct {
		user string
		want error
	}{
		{"", ErrUserEmpty},
		{"bob", ErrUserNotFound},
		{"alice", ErrPermissionDenied},
		{"admin", nil},
		{root, nil},
	} {
		if err := s.IsAdmin(tc.user); err != tc.want {
			t.Errorf("IsAdmin(%q) enabled: %v, want %v", tc.user, err, tc.want)
		}
		d := s.Clone()
		d.Disable()
		if err := d.IsAdmin(tc.user); err != nil {
			t.Errorf("IsAdmin(%q) disabled: %v, want nil", tc.user, err)
		}
	}
	// Without the role, user root is no admin.
	d := s.Clone()
	d.Disable()
	must(t, d.UserRevokeRole(root, root))
	d.Enabled = true
	if err := d.IsAdmin(root); err != ErrPermissionDenied {
		t.Errorf("IsAdmin(root) without role root: %v", err)
	}
	if !s.HasRole("alice", "r") || s.HasRole("alice", root) || s.HasRole("bob", "r") || !s.HasRole("admin", root) {
		t.Error("HasRole")
	}
}

// TestPermitted is §4.1 and §4.2.
func TestPermitted(t *testing.T) {
	type req struct {
		key, end string
		access   Access
		want     error
	}
	R, W := AccessRead, AccessWrite
	deny := ErrPermissionDenied
	for _, tc := range []struct {
		name  string
		roles map[string][]Permission // granted to user u, in name order
		reqs  []req
	}{
		{"no roles", nil, []req{{"a", "", R, deny}, {"a", "", W, deny}, {"a", "b", R, deny}, {"\x00", "\x00", R, deny}}},
		{"single key", map[string][]Permission{"r": {p(ReadWrite, "foo", "")}}, []req{
			{"foo", "", R, nil}, {"foo", "", W, nil},
			{"fo", "", R, deny}, {"foo\x00", "", R, deny}, {"foob", "", R, deny}, {"fop", "", R, deny},
			{"foo", "foo\x00", R, nil}, {"foo", "foo\x00", W, nil}, // [foo, foo\x00) is the key alone
			{"foo", "foo\x00\x00", R, deny}, {"foo", "fop", R, deny}, {"fo", "foo\x00", R, deny},
			{"foo", "\x00", R, deny},
		}},
		{"prefix foo = [foo, fop)", map[string][]Permission{"r": {p(ReadWrite, "foo", "fop")}}, []req{
			{"foo", "", R, nil}, {"foobar", "", R, nil}, {"foo\xff\xff", "", W, nil}, {"foo\x00", "", R, nil},
			{"fop", "", R, deny}, {"fo", "", R, deny}, {"fooa", "", W, nil},
			{"foo", "fop", R, nil}, // Range foo --prefix
			{"foob", "fooc", R, nil}, {"foobar", "fop", W, nil},
			{"foo", "foq", R, deny}, {"fo", "fop", R, deny}, {"foo", "\x00", R, deny},
		}},
		{"from-key foo", map[string][]Permission{"r": {p(ReadWrite, "foo", "\x00")}}, []req{
			{"foo", "", R, nil}, {"zzz", "", R, nil}, {"\xff\xff", "", W, nil}, {"fo", "", R, deny},
			{"foo", "\x00", R, nil}, {"g", "\x00", W, nil}, {"fo", "\x00", R, deny},
			{"foo", "\xff\xff\xff", R, nil}, {"a", "z", R, deny},
		}},
		{"all keys", map[string][]Permission{"r": {p(Read, "\x00", "\x00")}}, []req{
			{"\x00", "", R, nil}, {"a", "", R, nil}, {"\xff", "", R, nil},
			{"\x00", "\x00", R, nil}, {"a", "\x00", R, nil}, {"\x00", "\xff", R, nil},
			{"a", "", W, deny}, {"\x00", "\x00", W, deny},
		}},
		{"single key \\x00", map[string][]Permission{"r": {p(Read, "\x00", "")}}, []req{
			{"\x00", "", R, nil}, {"a", "", R, deny}, {"\x00", "\x00", R, deny},
		}},
		{"union across roles", map[string][]Permission{"r1": {p(ReadWrite, "a", "c")}, "r2": {p(Read, "c", "e")}}, []req{
			{"a", "e", R, nil}, {"b", "d", R, nil}, {"a", "f", R, deny}, {"a", "e\x00", R, deny},
			{"a", "c", W, nil}, {"a", "e", W, deny}, {"c", "", W, deny}, {"d", "", R, nil},
		}},
		{"union within a role, reaching from-key", map[string][]Permission{"r": {p(Read, "a", "c"), p(Read, "b", "d"), p(Read, "d", "\x00")}}, []req{
			{"a", "\x00", R, nil}, {"a", "zz", R, nil}, {"\x00", "\x00", R, deny},
		}},
		{"union with single keys", map[string][]Permission{"r": {p(Read, "a", ""), p(Read, "a\x00", "b")}}, []req{
			{"a", "b", R, nil}, {"a", "b\x00", R, deny},
		}},
		{"gap between intervals", map[string][]Permission{"r": {p(ReadWrite, "a", "b"), p(ReadWrite, "c", "d")}}, []req{
			{"a", "d", R, deny}, {"a", "b", R, nil}, {"c", "d", R, nil}, {"b", "", R, deny}, {"b", "c", R, deny},
			{"a", "c", R, deny}, {"a\x00", "b", W, nil},
		}},
		{"inverted request range is the point key", map[string][]Permission{"r": {p(Read, "a", "c")}}, []req{
			{"b", "a", R, nil}, {"x", "w", R, deny}, {"a", "a", R, nil}, {"c", "b", R, deny}, {"b", "\x00\x01", R, nil},
		}},
		{"READ only", map[string][]Permission{"r": {p(Read, "k", "")}}, []req{{"k", "", R, nil}, {"k", "", W, deny}}},
		{"WRITE only", map[string][]Permission{"r": {p(Write, "k", "")}}, []req{{"k", "", W, nil}, {"k", "", R, deny}}},
		{"READ and WRITE from two roles", map[string][]Permission{"r1": {p(Read, "a", "c")}, "r2": {p(Write, "b", "d")}}, []req{
			{"a", "c", R, nil}, {"b", "d", W, nil}, {"a", "d", R, deny}, {"a", "d", W, deny}, {"b", "c", R, nil}, {"b", "c", W, nil},
		}},
		{"unknown type grants nothing", map[string][]Permission{"r": {p(7, "k", ""), p(-1, "a", "z")}}, []req{
			{"k", "", R, deny}, {"k", "", W, deny}, {"b", "", R, deny},
		}},
		{"prefix of 0xff bytes", map[string][]Permission{"r": {p(Read, "\xff", "\x00")}}, []req{
			{"\xff", "", R, nil}, {"\xff\xff", "", R, nil}, {"\xfe", "", R, deny},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := rootState(t)
			must(t, s.UserAdd("u", []byte("h"), false))
			for name, perms := range tc.roles {
				must(t, s.RoleAdd(name))
				for _, perm := range perms {
					must(t, s.RoleGrantPermission(name, &perm))
				}
				must(t, s.UserGrantRole("u", name))
			}
			disabled := s.Clone()
			must(t, s.Enable())
			for _, r := range tc.reqs {
				if err := s.Permitted("u", s.Revision, []byte(r.key), []byte(r.end), r.access); err != r.want {
					t.Errorf("access %d [%q, %q): %v, want %v", r.access, r.key, r.end, err, r.want)
				}
				if err := disabled.Permitted("u", 0, []byte(r.key), []byte(r.end), r.access); err != nil {
					t.Errorf("disabled, access %d [%q, %q): %v", r.access, r.key, r.end, err)
				}
			}
		})
	}
}

func TestPermittedChecks(t *testing.T) {
	s := rootState(t)
	must(t, s.UserAdd("u", nil, true))
	must(t, s.UserAdd("admin", nil, true))
	must(t, s.UserGrantRole("admin", root))
	must(t, s.RoleAdd("r"))
	must(t, s.RoleGrantPermission("r", pp(ReadWrite, "k", "")))
	must(t, s.UserGrantRole("u", "r"))
	// A role name without a record (as a snapshot may hold) is skipped.
	s.Users["u"].Roles = []string{"a-ghost", "r", "z-ghost"}
	must(t, s.Enable())
	cur := s.Revision
	k := []byte("k")
	for _, tc := range []struct {
		name     string
		user     string
		rev      uint64
		key, end []byte
		want     error
	}{
		{"revision 0", "u", 0, k, nil, ErrUserEmpty},
		{"revision 0, unknown user", "nobody", 0, k, nil, ErrUserEmpty},
		{"revision 0, root", root, 0, k, nil, ErrUserEmpty},
		{"old revision", "u", cur - 1, k, nil, ErrAuthOldRevision},
		{"old revision, unknown user", "nobody", cur - 1, k, nil, ErrAuthOldRevision},
		{"old revision, root", root, 1, k, nil, ErrAuthOldRevision},
		{"newer revision", "u", cur + 5, k, nil, nil},
		{"unknown user", "nobody", cur, k, nil, ErrPermissionDenied},
		{"empty user name", "", cur, k, nil, ErrPermissionDenied},
		{"missing roles skipped", "u", cur, k, nil, nil},
		{"missing roles grant nothing", "u", cur, []byte("a-ghost"), nil, ErrPermissionDenied},
		{"root: any key", root, cur, []byte("zzz"), nil, nil},
		{"root: all keys", root, cur, []byte{0}, []byte{0}, nil},
		{"non-root user with role root: any key", "admin", cur, []byte("zzz"), nil, nil},
		{"non-root user with role root: all keys", "admin", cur, []byte{0}, []byte{0}, nil},
		{"non-root user with role root: a range", "admin", cur, []byte("a"), []byte("b"), nil},
	} {
		for _, access := range []Access{AccessRead, AccessWrite} {
			if err := s.Permitted(tc.user, tc.rev, tc.key, tc.end, access); err != tc.want {
				t.Errorf("%s (access %d): %v, want %v", tc.name, access, err, tc.want)
			}
		}
	}
	// Any mutation makes the old revision stale.
	must(t, s.RoleAdd("x"))
	if err := s.Permitted("u", cur, k, nil, AccessRead); err != ErrAuthOldRevision {
		t.Fatalf("after a mutation: %v", err)
	}
	if err := s.Permitted("u", s.Revision, k, nil, AccessRead); err != nil {
		t.Fatalf("at the new revision: %v", err)
	}
	// Disabled: everything goes, even revision 0 and unknown users.
	s.Disable()
	for _, user := range []string{"", "nobody", "u"} {
		if err := s.Permitted(user, 0, []byte("zzz"), []byte{0}, AccessWrite); err != nil {
			t.Fatalf("disabled, user %q: %v", user, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	s := rootState(t)
	must(t, s.UserAdd("alice", hash(t, "secret"), false))
	must(t, s.UserAdd("empty", hash(t, ""), false))
	must(t, s.UserAdd("nopw", hash(t, "ignored"), true))
	must(t, s.UserAdd("locked", hash(t, "pw"), false))
	must(t, s.UserAdd("changed", hash(t, "old"), false))

	if _, err := s.CheckPassword("alice", "secret"); err != ErrAuthNotEnabled {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := s.CheckPassword("bob", "x"); err != ErrAuthNotEnabled {
		t.Fatalf("disabled, unknown user: %v", err)
	}
	if s.Users["nopw"].Password != nil {
		t.Fatalf("a no-password user keeps a hash: %q", s.Users["nopw"].Password)
	}

	must(t, s.UserChangePassword("locked", nil))
	must(t, s.UserChangePassword("changed", hash(t, "new")))
	must(t, s.UserChangePassword("nopw", hash(t, "x"))) // ignored, still a change
	if s.Users["nopw"].Password != nil {
		t.Fatalf("UserChangePassword gave a no-password user a hash")
	}
	must(t, s.Enable())
	rev := s.Revision
	for _, tc := range []struct {
		user, pw string
		want     error
	}{
		{"alice", "secret", nil},
		{"alice", "wrong", ErrAuthFailed},
		{"alice", "", ErrAuthFailed},
		{"bob", "secret", ErrAuthFailed},
		{"", "", ErrAuthFailed},
		{"empty", "", nil},
		{"empty", "x", ErrAuthFailed},
		{"nopw", "", ErrNoPasswordUser},
		{"nopw", "ignored", ErrNoPasswordUser},
		{"nopw", "x", ErrNoPasswordUser},
		{"locked", "pw", ErrAuthFailed},
		{"locked", "", ErrAuthFailed},
		{"changed", "old", ErrAuthFailed},
		{"changed", "new", nil},
		{root, "", ErrAuthFailed}, // root's "hash" is no bcrypt hash
	} {
		got, err := s.CheckPassword(tc.user, tc.pw)
		if err != tc.want {
			t.Errorf("CheckPassword(%q, %q): %v, want %v", tc.user, tc.pw, err, tc.want)
			continue
		}
		wantRev := rev
		if err != nil {
			wantRev = 0
		}
		if got != wantRev {
			t.Errorf("CheckPassword(%q, %q): revision %d, want %d", tc.user, tc.pw, got, wantRev)
		}
	}
	if s.Revision != rev {
		t.Fatalf("CheckPassword changed the revision")
	}
	// The revision returned is the current one.
	must(t, s.RoleAdd("r"))
	if got, err := s.CheckPassword("alice", "secret"); err != nil || got != rev+1 {
		t.Fatalf("after a change: %d %v, want %d", got, err, rev+1)
	}
	// An empty hash (UserChangePassword with "") locks out, same as nil.
	must(t, s.UserChangePassword("alice", []byte{}))
	for _, pw := range []string{"secret", ""} {
		if _, err := s.CheckPassword("alice", pw); err != ErrAuthFailed {
			t.Fatalf("after an empty hash, %q: %v", pw, err)
		}
	}
	// UserChangePassword keeps the roles.
	must(t, s.UserGrantRole("changed", "r"))
	must(t, s.UserChangePassword("changed", hash(t, "newer")))
	if roles, _ := s.UserGet("changed"); !slices.Equal(roles, []string{"r"}) {
		t.Fatalf("roles after a password change: %q", roles)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("pw", 4)
	must(t, err)
	if !bytes.HasPrefix(h, []byte("$2a$04$")) {
		t.Fatalf("hash %q is not bcrypt at cost 4", h)
	}
	if _, err := HashPassword(string(make([]byte, 73)), 4); err == nil {
		t.Fatal("a 73-byte password was hashed")
	}
}

func TestClone(t *testing.T) {
	build := func() *State {
		s := New()
		must(t, s.UserAdd(root, []byte("roothash"), false))
		must(t, s.UserGrantRole(root, root))
		must(t, s.UserAdd("u", []byte("uhash"), false))
		must(t, s.UserAdd("np", nil, true))
		for _, r := range []string{"a", "b"} {
			must(t, s.RoleAdd(r))
			must(t, s.UserGrantRole("u", r))
		}
		must(t, s.RoleGrantPermission("a", pp(Read, "k", "l")))
		must(t, s.RoleGrantPermission("a", pp(Write, "m", "\x00")))
		must(t, s.RoleGrantPermission("b", pp(ReadWrite, "x", "")))
		must(t, s.Enable())
		return s
	}
	orig := build()
	want := build()
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, orig)
	}

	// Scribble on every byte and slice the clone holds.
	c.Users["u"].Password[0] = 'X'
	c.Users["u"].Roles[0] = "zz"
	c.Users["u"].Name = "renamed"
	c.Roles["a"].Perms[0].Key[0] = 'X'
	c.Roles["a"].Perms[0].RangeEnd[0] = 'X'
	c.Roles["a"].Perms[1].Type = Read
	c.Roles["b"].Name = "renamed"
	// And change it through its methods.
	must(t, c.UserAdd("new", nil, true))
	must(t, c.RoleAdd("c"))
	must(t, c.UserGrantRole("np", "c"))
	must(t, c.RoleGrantPermission("a", pp(ReadWrite, "m", "\x00")))
	must(t, c.RoleGrantPermission("b", pp(Read, "a", "")))
	must(t, c.RoleRevokePermission("b", []byte("x"), nil))
	must(t, c.RoleDelete("a"))
	must(t, c.UserChangePassword(root, []byte("other")))
	must(t, c.UserDelete("np"))
	c.Disable()

	if !reflect.DeepEqual(orig, want) {
		t.Fatalf("changing the clone changed the original:\n%+v\nwant\n%+v", orig, want)
	}
	for n, u := range orig.Users {
		if !reflect.DeepEqual(u, want.Users[n]) {
			t.Errorf("user %s: %+v, want %+v", n, u, want.Users[n])
		}
	}
	for n, r := range orig.Roles {
		if !reflect.DeepEqual(r, want.Roles[n]) {
			t.Errorf("role %s: %+v, want %+v", n, r, want.Roles[n])
		}
	}

	// And the other way round.
	c = orig.Clone()
	before := orig.Clone()
	orig.Roles["b"].Perms[0].Key[0] = 'Y'
	orig.Users["u"].Roles[1] = "q"
	if !reflect.DeepEqual(c, before) {
		t.Fatal("changing the original changed the clone")
	}
}

func TestErrorTexts(t *testing.T) {
	// The texts are etcd's (§2.2); clients compare them.
	for err, want := range map[error]string{
		ErrRootUserNotExist:     "etcdserver: root user does not exist",
		ErrRootRoleNotExist:     "etcdserver: root user does not have root role",
		ErrUserAlreadyExist:     "etcdserver: user name already exists",
		ErrUserEmpty:            "etcdserver: user name is empty",
		ErrUserNotFound:         "etcdserver: user name not found",
		ErrRoleAlreadyExist:     "etcdserver: role name already exists",
		ErrRoleNotFound:         "etcdserver: role name not found",
		ErrRoleEmpty:            "etcdserver: role name is empty",
		ErrAuthFailed:           "etcdserver: authentication failed, invalid user ID or password",
		ErrPermissionNotGiven:   "etcdserver: permission not given",
		ErrPermissionDenied:     "etcdserver: permission denied",
		ErrRoleNotGranted:       "etcdserver: role is not granted to the user",
		ErrPermissionNotGranted: "etcdserver: permission is not granted to the role",
		ErrAuthNotEnabled:       "etcdserver: authentication is not enabled",
		ErrInvalidAuthToken:     "etcdserver: invalid auth token",
		ErrInvalidAuthMgmt:      "etcdserver: invalid auth management",
		ErrAuthOldRevision:      "etcdserver: revision of auth store is old",
		ErrNoPasswordUser:       "auth: authentication failed, password was given for no password user",
	} {
		if err.Error() != want {
			t.Errorf("%q, want %q", err, want)
		}
	}
}
