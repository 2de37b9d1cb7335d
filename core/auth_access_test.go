package core

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/metastore/metastore/core/auth"
)

// authStore is a store with auth on: root (admin), alice reading [a, c) and writing "k",
// bob writing "w" only, and lease 7 holding "w" and "k".
func authStore(t *testing.T) *Store {
	t.Helper()
	s := newTestStore(t)
	hash, err := auth.HashPassword("pw", 4)
	if err != nil {
		t.Fatal(err)
	}
	h := base64.StdEncoding.EncodeToString(hash)
	if _, err := s.LeaseGrant(&LeaseGrantRequest{ID: 7, TTL: 100}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"w", "k"} {
		if _, err := s.Put(&PutRequest{Key: []byte(k), Lease: 7}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*AuthRequest{
		{Op: AuthUserAdd, Name: "root", HashedPassword: h},
		{Op: AuthUserGrantRole, Name: "root", Role: "root"},
		{Op: AuthUserAdd, Name: "alice", HashedPassword: h},
		{Op: AuthUserAdd, Name: "bob", HashedPassword: h},
		{Op: AuthRoleAdd, Name: "reader"},
		{Op: AuthRoleGrantPermission, Name: "reader", Perm: &auth.Permission{Type: auth.Read, Key: []byte("a"), RangeEnd: []byte("c")}},
		{Op: AuthRoleGrantPermission, Name: "reader", Perm: &auth.Permission{Type: auth.Write, Key: []byte("k")}},
		{Op: AuthUserGrantRole, Name: "alice", Role: "reader"},
		{Op: AuthRoleAdd, Name: "writer"},
		{Op: AuthRoleGrantPermission, Name: "writer", Perm: &auth.Permission{Type: auth.Write, Key: []byte("w")}},
		{Op: AuthUserGrantRole, Name: "bob", Role: "writer"},
		{Op: AuthEnable},
	} {
		if _, err := s.Auth(AuthInfo{}, r); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
	}
	return s
}

func TestAuthChecks(t *testing.T) {
	s := authStore(t)
	rev := s.AuthRevision()
	root := AuthInfo{"root", rev}
	alice := AuthInfo{"alice", rev}
	bob := AuthInfo{"bob", rev}
	stale := AuthInfo{"alice", rev - 1}
	ghost := AuthInfo{"ghost", rev}
	nobody := AuthInfo{}
	put := func(k string, lease int64, prev bool) func(AuthInfo) error {
		return func(ai AuthInfo) error {
			return s.CheckPut(ai, &PutRequest{Key: []byte(k), Lease: lease, PrevKv: prev})
		}
	}
	rng := func(k, end string) func(AuthInfo) error {
		return func(ai AuthInfo) error { return s.CheckRange(ai, []byte(k), []byte(end)) }
	}
	txn := func(r *TxnRequest) func(AuthInfo) error {
		return func(ai AuthInfo) error { return s.CheckTxn(ai, r) }
	}
	rangeOp := func(k string) RequestOp { return RequestOp{Range: &RangeRequest{Key: []byte(k)}} }
	putOp := func(k string) RequestOp { return RequestOp{Put: &PutRequest{Key: []byte(k)}} }
	for _, c := range []struct {
		name  string
		check func(AuthInfo) error
		ai    AuthInfo
		want  error
	}{
		{"read in range", rng("b", ""), alice, nil},
		{"read the whole range", rng("a", "c"), alice, nil},
		{"read past the range", rng("a", "d"), alice, auth.ErrPermissionDenied},
		{"read from key", rng("a", "\x00"), alice, auth.ErrPermissionDenied},
		{"inverted range asks for its first key", rng("b", "a"), alice, nil},
		{"read without a read role", rng("w", ""), bob, auth.ErrPermissionDenied},
		{"root reads all", rng("a", "\x00"), root, nil},
		{"no credentials", rng("b", ""), nobody, auth.ErrUserEmpty},
		{"stale revision", rng("b", ""), stale, auth.ErrAuthOldRevision},
		{"unknown user", rng("b", ""), ghost, auth.ErrPermissionDenied},
		{"write a writable key", put("k", 0, false), alice, nil},
		{"prev_kv needs read too", put("w", 0, true), bob, auth.ErrPermissionDenied},
		{"a lease with a key the user cannot write", put("k", 7, false), alice, auth.ErrPermissionDenied},
		{"an unknown lease holds nothing", put("k", 99, false), alice, nil},
		{"root attaches any lease", put("k", 7, false), root, nil},
		{"delete needs write on the range", func(ai AuthInfo) error {
			return s.CheckDeleteRange(ai, &DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("b")})
		}, alice, auth.ErrPermissionDenied},
		{"txn compare on a forbidden key", txn(&TxnRequest{Compare: []Compare{{Key: []byte("w")}}}), alice, auth.ErrPermissionDenied},
		{"txn forbidden op in the branch not taken", txn(&TxnRequest{Success: []RequestOp{rangeOp("b")}, Failure: []RequestOp{putOp("b")}}), alice, auth.ErrPermissionDenied},
		{"nested txn", txn(&TxnRequest{Success: []RequestOp{{Txn: &TxnRequest{Success: []RequestOp{putOp("w")}}}}}), alice, auth.ErrPermissionDenied},
		{"allowed txn", txn(&TxnRequest{Compare: []Compare{{Key: []byte("b")}}, Success: []RequestOp{putOp("k")}, Failure: []RequestOp{rangeOp("a")}}), alice, nil},
		{"revoke a lease with a foreign key", func(ai AuthInfo) error { return s.CheckLease(ai, 7) }, bob, auth.ErrPermissionDenied},
		{"keep-alive without credentials", func(ai AuthInfo) error { return s.CheckLeaseKeepAlive(ai, 99) }, nobody, auth.ErrUserEmpty},
		{"lease keys need read", func(ai AuthInfo) error { return s.CheckLeaseRead(ai, 7) }, alice, auth.ErrPermissionDenied},
		{"admin", s.CheckAdmin, alice, auth.ErrPermissionDenied},
		{"admin, anonymous", s.CheckAdmin, nobody, auth.ErrUserEmpty},
		{"admin, unknown", s.CheckAdmin, ghost, auth.ErrUserNotFound},
		{"admin, root", s.CheckAdmin, root, nil},
		{"authenticated, a user with no permission", s.CheckAuthenticated, ghost, nil},
		{"authenticated, anonymous", s.CheckAuthenticated, nobody, auth.ErrUserEmpty},
	} {
		if err := c.check(c.ai); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}

	// Disabled: everything passes, whoever asks.
	if _, err := s.Auth(root, &AuthRequest{Op: AuthDisable}); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.CheckRange(nobody, []byte("z"), nil), s.CheckAdmin(nobody), put("w", 7, true)(nobody)} {
		if err != nil {
			t.Errorf("auth disabled: %v", err)
		}
	}
}

// Store.Auth gates requests as etcd's applier does: the administrator for changes and
// lists, the user for their own UserGet, a holder for RoleGet, anyone for a login; the gate
// comes before the request's own checks.
func TestAuthRequestGate(t *testing.T) {
	s := authStore(t)
	rev := s.AuthRevision()
	alice, root := AuthInfo{"alice", rev}, AuthInfo{"root", rev}
	for _, c := range []struct {
		name string
		ai   AuthInfo
		r    *AuthRequest
		want error
	}{
		{"non-admin adds a user (the gate before the empty name)", alice, &AuthRequest{Op: AuthUserAdd}, auth.ErrPermissionDenied},
		{"admin adds a user with no name", root, &AuthRequest{Op: AuthUserAdd, NoPassword: true}, auth.ErrUserEmpty},
		{"own UserGet", alice, &AuthRequest{Op: AuthUserGet, Name: "alice"}, nil},
		{"another's UserGet", alice, &AuthRequest{Op: AuthUserGet, Name: "bob"}, auth.ErrPermissionDenied},
		{"anonymous UserGet of the empty name", AuthInfo{}, &AuthRequest{Op: AuthUserGet}, auth.ErrUserNotFound},
		{"RoleGet of a held role", alice, &AuthRequest{Op: AuthRoleGet, Name: "reader"}, nil},
		{"RoleGet of another role", alice, &AuthRequest{Op: AuthRoleGet, Name: "writer"}, auth.ErrPermissionDenied},
		{"status needs the admin", alice, &AuthRequest{Op: AuthStatus}, auth.ErrPermissionDenied},
		{"login of a known user", AuthInfo{}, &AuthRequest{Op: Authenticate, Name: "bob"}, nil},
		{"login of an unknown user", AuthInfo{}, &AuthRequest{Op: Authenticate, Name: "ghost"}, auth.ErrAuthFailed},
		{"root's role may not be revoked from root", root, &AuthRequest{Op: AuthUserRevokeRole, Name: "root", Role: "root"}, auth.ErrInvalidAuthMgmt},
	} {
		before := s.AuthRevision()
		_, err := s.Auth(c.ai, c.r)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if after := s.AuthRevision(); after != before {
			t.Errorf("%s: the auth revision moved from %d to %d", c.name, before, after)
		}
	}
	resp, err := s.Auth(root, &AuthRequest{Op: AuthStatus})
	if err != nil || !resp.Enabled || resp.AuthRevision != rev || resp.Header.Revision != s.Rev() {
		t.Fatalf("status: %+v, %v (want enabled at auth revision %d, header revision %d)", resp, err, rev, s.Rev())
	}
}
