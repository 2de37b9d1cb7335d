package core

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
)

// The auth store lives in the backend's metadata under one key, as JSON: users, roles, the
// enabled flag and the auth revision. It is small and changes rarely; never in the keyspace.
// Names are stored as bytes (etcd takes any bytes for them; JSON strings would not keep
// bytes that are not UTF-8), users and roles sorted by name, so the encoding is the same on
// every member.
const authMetaKey = "auth"

type authRecord struct {
	Enabled  bool
	Revision uint64
	Users    []userRecord
	Roles    []roleRecord
}

type userRecord struct {
	Name, Password []byte
	Roles          [][]byte
	NoPassword     bool `json:",omitempty"`
}

type roleRecord struct {
	Name  []byte
	Perms []auth.Permission
}

func encodeAuth(st *auth.State) ([]byte, error) {
	rec := authRecord{Enabled: st.Enabled, Revision: st.Revision}
	for _, name := range slices.Sorted(maps.Keys(st.Users)) {
		u := st.Users[name]
		ur := userRecord{Name: []byte(u.Name), Password: u.Password, NoPassword: u.NoPassword}
		for _, r := range u.Roles {
			ur.Roles = append(ur.Roles, []byte(r))
		}
		rec.Users = append(rec.Users, ur)
	}
	for _, name := range slices.Sorted(maps.Keys(st.Roles)) {
		r := st.Roles[name]
		rec.Roles = append(rec.Roles, roleRecord{Name: []byte(r.Name), Perms: r.Perms})
	}
	return json.Marshal(rec)
}

func loadAuth(b backend.Backend) (*auth.State, error) {
	v, ok := b.Meta(authMetaKey)
	if !ok {
		return auth.New(), nil
	}
	return decodeAuth(v)
}

func decodeAuth(v []byte) (*auth.State, error) {
	var rec authRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("core: auth state: %w", err)
	}
	st := auth.New()
	st.Enabled, st.Revision = rec.Enabled, rec.Revision
	for _, ur := range rec.Users {
		u := &auth.User{Name: string(ur.Name), Password: ur.Password, NoPassword: ur.NoPassword}
		for _, r := range ur.Roles {
			u.Roles = append(u.Roles, string(r))
		}
		st.Users[u.Name] = u
	}
	for _, rr := range rec.Roles {
		st.Roles[string(rr.Name)] = &auth.Role{Name: string(rr.Name), Perms: rr.Perms}
	}
	return st, nil
}

// AuthUpdate applies one change of the auth store (in log order, like a write) and records
// the new state; a change that fails leaves the state as it was.
func (s *Store) AuthUpdate(fn func(st *auth.State) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// Writers are serialised by wmu, so s.auth does not change under us: the change is made
	// on a copy and recorded before authMu is taken, only to swap it in (checks never wait
	// on a commit).
	next := s.auth.Clone()
	if err := fn(next); err != nil {
		return err
	}
	b, err := encodeAuth(next)
	if err != nil {
		return err
	}
	if err := s.kv.CommitMeta(backend.MetaEntry{Key: authMetaKey, Value: b}); err != nil {
		return err
	}
	s.authMu.Lock()
	s.auth = next
	s.authMu.Unlock()
	return nil
}

// AuthView reads the auth store (permission checks, gets and lists). fn must be quick (a
// password's bcrypt comparison belongs outside, on what fn copied out) and must not write.
func (s *Store) AuthView(fn func(st *auth.State)) {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	fn(s.auth)
}

// CheckPassword verifies a login and returns the auth revision it was checked at. The bcrypt
// comparison runs outside the auth lock, so a slow login never holds up checks or changes.
func (s *Store) CheckPassword(name, password string) (uint64, error) {
	var hash []byte
	var rev uint64
	var err error
	s.AuthView(func(st *auth.State) { hash, rev, err = st.Login(name) })
	if err == nil {
		err = auth.ComparePassword(hash, password)
	}
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// AuthOp names an auth request. The values are the field numbers of etcd's
// InternalRaftRequest, so the server's log codec writes them as they are.
type AuthOp int32

const (
	AuthEnable               AuthOp = 1000
	AuthDisable              AuthOp = 1011
	Authenticate             AuthOp = 1012
	AuthStatus               AuthOp = 1013
	AuthUserAdd              AuthOp = 1100
	AuthUserDelete           AuthOp = 1101
	AuthUserGet              AuthOp = 1102
	AuthUserChangePassword   AuthOp = 1103
	AuthUserGrantRole        AuthOp = 1104
	AuthUserRevokeRole       AuthOp = 1105
	AuthUserList             AuthOp = 1106
	AuthRoleList             AuthOp = 1107
	AuthRoleAdd              AuthOp = 1200
	AuthRoleDelete           AuthOp = 1201
	AuthRoleGet              AuthOp = 1202
	AuthRoleGrantPermission  AuthOp = 1203
	AuthRoleRevokePermission AuthOp = 1204
)

// AuthRequest is one auth request as it is applied. Passwords never get here: a new
// password comes as its bcrypt hash (base64, etcd's hashedPassword), and a login as the
// token prefix the proposing member drew after it checked the password itself.
type AuthRequest struct {
	Op AuthOp
	// Name is the user (Authenticate and the User ops) or the role (the Role ops).
	Name string
	// Role is the role granted to or revoked from user Name.
	Role           string
	HashedPassword string
	NoPassword     bool
	SimpleToken    string
	Perm           *auth.Permission // AuthRoleGrantPermission
	Key, RangeEnd  []byte           // AuthRoleRevokePermission
}

// AuthResponse carries what the request asked for: the status, a user's roles, a role's
// permissions, or a list of names.
type AuthResponse struct {
	Header       ResponseHeader
	Enabled      bool
	AuthRevision uint64
	Roles        []string // AuthUserGet; AuthRoleList
	Users        []string // AuthUserList
	Perms        []auth.Permission
}

// Auth applies an auth request from ai, in log order. Authenticate only checks that the
// user may still log in: the token is the member's to make.
func (s *Store) Auth(ai AuthInfo, r *AuthRequest) (*AuthResponse, error) {
	resp := &AuthResponse{}
	var err error
	switch r.Op {
	case Authenticate, AuthStatus, AuthUserGet, AuthUserList, AuthRoleGet, AuthRoleList:
		s.AuthView(func(st *auth.State) {
			if err = authGate(st, ai, r); err == nil {
				err = authRead(st, r, resp)
			}
		})
	default:
		err = s.AuthUpdate(func(st *auth.State) error {
			if err := authGate(st, ai, r); err != nil {
				return err
			}
			return authChange(st, r)
		})
	}
	if err != nil {
		return nil, err
	}
	resp.Header.Revision = s.kv.Rev()
	return resp, nil
}

// authGate is etcd's check before an auth request: the administrator for most, the user
// themself for AuthUserGet, a holder of the role for AuthRoleGet, anyone for Authenticate.
// It comes before any check of the request itself.
func authGate(st *auth.State, ai AuthInfo, r *AuthRequest) error {
	switch {
	case r.Op == Authenticate:
		return nil
	case r.Op == AuthUserGet && r.Name == ai.Username:
		return nil
	case r.Op == AuthRoleGet && st.HasRole(ai.Username, r.Name):
		return nil
	}
	return st.IsAdmin(ai.Username)
}

func authRead(st *auth.State, r *AuthRequest, resp *AuthResponse) error {
	var err error
	switch r.Op {
	case Authenticate:
		if !st.Enabled {
			return auth.ErrAuthNotEnabled
		}
		if u := st.Users[r.Name]; u == nil || u.NoPassword {
			return auth.ErrAuthFailed
		}
	case AuthStatus:
		resp.Enabled, resp.AuthRevision = st.Enabled, st.Revision
	case AuthUserGet:
		resp.Roles, err = st.UserGet(r.Name)
	case AuthUserList:
		resp.Users = st.UserList()
	case AuthRoleGet:
		resp.Perms, err = st.RoleGet(r.Name)
	case AuthRoleList:
		resp.Roles = st.RoleList()
	}
	return err
}

func authChange(st *auth.State, r *AuthRequest) error {
	switch r.Op {
	case AuthEnable:
		return st.Enable()
	case AuthDisable:
		st.Disable()
		return nil
	case AuthUserAdd:
		var hash []byte
		if !r.NoPassword {
			var err error
			if hash, err = base64.StdEncoding.DecodeString(r.HashedPassword); err != nil {
				return fmt.Errorf("core: user %q: password hash: %w", r.Name, err)
			}
		}
		return st.UserAdd(r.Name, hash, r.NoPassword)
	case AuthUserDelete:
		return st.UserDelete(r.Name)
	case AuthUserChangePassword:
		hash, err := base64.StdEncoding.DecodeString(r.HashedPassword)
		if err != nil {
			return fmt.Errorf("core: user %q: password hash: %w", r.Name, err)
		}
		return st.UserChangePassword(r.Name, hash)
	case AuthUserGrantRole:
		return st.UserGrantRole(r.Name, r.Role)
	case AuthUserRevokeRole:
		return st.UserRevokeRole(r.Name, r.Role)
	case AuthRoleAdd:
		return st.RoleAdd(r.Name)
	case AuthRoleDelete:
		return st.RoleDelete(r.Name)
	case AuthRoleGrantPermission:
		return st.RoleGrantPermission(r.Name, r.Perm)
	case AuthRoleRevokePermission:
		return st.RoleRevokePermission(r.Name, r.Key, r.RangeEnd)
	}
	return fmt.Errorf("core: unknown auth request %d", r.Op)
}
