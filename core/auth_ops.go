package core

import (
	"encoding/json"
	"fmt"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
)

// The auth store lives in the backend's metadata under one key, as JSON: users, roles, the
// enabled flag and the auth revision. It is small and changes rarely; never in the keyspace.
const authMetaKey = "auth"

func loadAuth(b backend.Backend) (*auth.State, error) {
	v, ok := b.Meta(authMetaKey)
	if !ok {
		return auth.New(), nil
	}
	return decodeAuth(v)
}

func decodeAuth(v []byte) (*auth.State, error) {
	st := auth.New()
	if err := json.Unmarshal(v, st); err != nil {
		return nil, fmt.Errorf("core: auth state: %w", err)
	}
	if st.Users == nil {
		st.Users = map[string]*auth.User{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*auth.Role{}
	}
	return st, nil
}

// AuthUpdate applies one change of the auth store (in log order, like a write) and records
// the new state; a change that fails leaves the state as it was.
func (s *Store) AuthUpdate(fn func(st *auth.State) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.authMu.Lock()
	defer s.authMu.Unlock()
	next := s.auth.Clone()
	if err := fn(next); err != nil {
		return err
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.kv.CommitMeta(backend.MetaEntry{Key: authMetaKey, Value: b}); err != nil {
		return err
	}
	s.auth = next
	return nil
}

// AuthView reads the auth store (permission checks, gets and lists, password checks).
func (s *Store) AuthView(fn func(st *auth.State)) {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	fn(s.auth)
}
