package core

import (
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
