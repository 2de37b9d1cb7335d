// Package auth is etcd's role-based access control as state: users (bcrypt password hashes,
// roles), roles (key permissions on single keys, ranges and from-keys), the enabled flag and
// the auth revision. Every change is applied in log order like a write, so every member
// decides the same; passwords are hashed before a change is proposed and checked outside the
// log, as etcd does. The rules, errors and quirks are etcd 3.6's (docs/research/etcd-auth.md).
package auth

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"sort"

	"golang.org/x/crypto/bcrypt"
)

// Errors, with etcd's texts (the core's status table gives their gRPC codes).
var (
	ErrRootUserNotExist     = errors.New("etcdserver: root user does not exist")
	ErrRootRoleNotExist     = errors.New("etcdserver: root user does not have root role")
	ErrUserAlreadyExist     = errors.New("etcdserver: user name already exists")
	ErrUserEmpty            = errors.New("etcdserver: user name is empty")
	ErrUserNotFound         = errors.New("etcdserver: user name not found")
	ErrRoleAlreadyExist     = errors.New("etcdserver: role name already exists")
	ErrRoleNotFound         = errors.New("etcdserver: role name not found")
	ErrRoleEmpty            = errors.New("etcdserver: role name is empty")
	ErrAuthFailed           = errors.New("etcdserver: authentication failed, invalid user ID or password")
	ErrPermissionNotGiven   = errors.New("etcdserver: permission not given")
	ErrPermissionDenied     = errors.New("etcdserver: permission denied")
	ErrRoleNotGranted       = errors.New("etcdserver: role is not granted to the user")
	ErrPermissionNotGranted = errors.New("etcdserver: permission is not granted to the role")
	ErrAuthNotEnabled       = errors.New("etcdserver: authentication is not enabled")
	ErrInvalidAuthToken     = errors.New("etcdserver: invalid auth token")
	ErrInvalidAuthMgmt      = errors.New("etcdserver: invalid auth management")
	ErrAuthOldRevision      = errors.New("etcdserver: revision of auth store is old")
	// etcd leaves this one out of its error map: clients see code Unknown and this text.
	ErrNoPasswordUser = errors.New("auth: authentication failed, password was given for no password user")
)

const root = "root"

// PermType is what a permission allows.
type PermType int32

const (
	Read      PermType = 0
	Write     PermType = 1
	ReadWrite PermType = 2
)

// Permission covers the key Key alone (RangeEnd empty), every key from Key on (RangeEnd
// "\x00"), or [Key, RangeEnd).
type Permission struct {
	Type     PermType
	Key      []byte
	RangeEnd []byte
}

type User struct {
	Name string
	// Password is the bcrypt hash; nil for a no-password user (one that only a client
	// certificate's common name can act as).
	Password   []byte
	Roles      []string // sorted
	NoPassword bool
}

type Role struct {
	Name  string
	Perms []Permission // sorted by key; equal keys in the order etcd's sort.Sort leaves them
}

// State is the whole auth store.
type State struct {
	Enabled  bool
	Revision uint64
	Users    map[string]*User
	Roles    map[string]*Role
}

// New returns the store of a fresh member: disabled, at auth revision 1 (as etcd starts).
func New() *State {
	return &State{Revision: 1, Users: map[string]*User{}, Roles: map[string]*Role{}}
}

// Clone is a deep copy (for snapshots taken while changes go on).
func (s *State) Clone() *State {
	c := &State{Enabled: s.Enabled, Revision: s.Revision, Users: map[string]*User{}, Roles: map[string]*Role{}}
	for n, u := range s.Users {
		cu := *u
		cu.Password = slices.Clone(u.Password)
		cu.Roles = slices.Clone(u.Roles)
		c.Users[n] = &cu
	}
	for n, r := range s.Roles {
		cr := Role{Name: r.Name, Perms: make([]Permission, len(r.Perms))}
		for i, p := range r.Perms {
			cr.Perms[i] = Permission{Type: p.Type, Key: slices.Clone(p.Key), RangeEnd: slices.Clone(p.RangeEnd)}
		}
		c.Roles[n] = &cr
	}
	return c
}

func (s *State) hasRoot(name string) bool {
	u := s.Users[name]
	return u != nil && slices.Contains(u.Roles, root)
}

// IsAdmin is etcd's admin check: anyone while auth is disabled, else a user with role root.
func (s *State) IsAdmin(user string) error {
	switch {
	case !s.Enabled:
		return nil
	case user == "":
		return ErrUserEmpty
	case s.Users[user] == nil:
		return ErrUserNotFound
	case !s.hasRoot(user):
		return ErrPermissionDenied
	}
	return nil
}

// HasRole reports whether user holds role.
func (s *State) HasRole(user, role string) bool {
	u := s.Users[user]
	return u != nil && slices.Contains(u.Roles, role)
}

// Enable turns auth on; user root must exist and hold role root. Enabling does not change
// the auth revision.
func (s *State) Enable() error {
	if s.Enabled {
		return nil
	}
	u := s.Users[root]
	if u == nil {
		return ErrRootUserNotExist
	}
	if !slices.Contains(u.Roles, root) {
		return ErrRootRoleNotExist
	}
	s.Enabled = true
	return nil
}

// Disable turns auth off (a change of the auth revision; tokens die with it).
func (s *State) Disable() {
	if !s.Enabled {
		return
	}
	s.Enabled = false
	s.Revision++
}

// UserAdd adds a user with a password hash made before proposing (nil for no-password).
func (s *State) UserAdd(name string, hash []byte, noPassword bool) error {
	if name == "" {
		return ErrUserEmpty
	}
	if s.Users[name] != nil {
		return ErrUserAlreadyExist
	}
	u := &User{Name: name, Password: hash, NoPassword: noPassword}
	if noPassword {
		u.Password = nil
	}
	s.Users[name] = u
	s.Revision++
	return nil
}

func (s *State) UserDelete(name string) error {
	if s.Enabled && name == root {
		return ErrInvalidAuthMgmt
	}
	if s.Users[name] == nil {
		return ErrUserNotFound
	}
	delete(s.Users, name)
	s.Revision++
	return nil
}

// UserChangePassword sets a new hash (ignored for a no-password user, whose change still
// counts as one).
func (s *State) UserChangePassword(name string, hash []byte) error {
	u := s.Users[name]
	if u == nil {
		return ErrUserNotFound
	}
	if !u.NoPassword {
		u.Password = hash
	}
	s.Revision++
	return nil
}

func (s *State) UserGrantRole(name, role string) error {
	u := s.Users[name]
	if u == nil {
		return ErrUserNotFound
	}
	if role != root && s.Roles[role] == nil {
		return ErrRoleNotFound
	}
	i, found := slices.BinarySearch(u.Roles, role)
	if found {
		return nil // already granted: no change, no new revision
	}
	u.Roles = slices.Insert(u.Roles, i, role)
	s.Revision++
	return nil
}

func (s *State) UserRevokeRole(name, role string) error {
	if s.Enabled && name == root && role == root {
		return ErrInvalidAuthMgmt
	}
	u := s.Users[name]
	if u == nil {
		return ErrUserNotFound
	}
	i := slices.Index(u.Roles, role)
	if i < 0 {
		return ErrRoleNotGranted
	}
	u.Roles = slices.Delete(u.Roles, i, i+1)
	s.Revision++
	return nil
}

// UserGet returns a user's roles.
func (s *State) UserGet(name string) ([]string, error) {
	u := s.Users[name]
	if u == nil {
		return nil, ErrUserNotFound
	}
	return slices.Clone(u.Roles), nil
}

// UserList returns the user names, sorted.
func (s *State) UserList() []string { return slices.Sorted(maps.Keys(s.Users)) }

func (s *State) RoleAdd(name string) error {
	if name == "" {
		return ErrRoleEmpty
	}
	if s.Roles[name] != nil {
		return ErrRoleAlreadyExist
	}
	s.Roles[name] = &Role{Name: name}
	s.Revision++
	return nil
}

// RoleDelete deletes a role and takes it from every user holding it.
func (s *State) RoleDelete(name string) error {
	if s.Enabled && name == root {
		return ErrInvalidAuthMgmt
	}
	if s.Roles[name] == nil {
		return ErrRoleNotFound
	}
	delete(s.Roles, name)
	for _, u := range s.Users {
		if i := slices.Index(u.Roles, name); i >= 0 {
			u.Roles = slices.Delete(u.Roles, i, i+1)
		}
	}
	s.Revision++
	return nil
}

// rootPerm is what role root always reads back as: every key.
var rootPerm = Permission{Type: ReadWrite, Key: []byte{}, RangeEnd: []byte{0}}

// RoleGet returns a role's permissions.
func (s *State) RoleGet(name string) ([]Permission, error) {
	r := s.Roles[name]
	if r == nil {
		return nil, ErrRoleNotFound
	}
	if name == root {
		return []Permission{rootPerm}, nil
	}
	return slices.Clone(r.Perms), nil
}

// RoleList returns the role names, sorted. etcd lists the range [0x00, 0xff) of its roles
// bucket, so a role whose name starts with byte 0xff is never listed.
func (s *State) RoleList() []string {
	return slices.DeleteFunc(slices.Sorted(maps.Keys(s.Roles)), func(n string) bool { return n >= "\xff" })
}

// validRange is etcd's isValidPermissionRange.
func validRange(key, end []byte) bool {
	return len(key) > 0 && (len(end) == 0 || bytes.Compare(key, end) < 0 || bytes.Equal(end, []byte{0}))
}

// RoleGrantPermission grants perm to a role. etcd merges nothing: the first permission with
// the same key, if it also has the same range end, gets the new type (even a narrower one);
// otherwise the permission is added.
func (s *State) RoleGrantPermission(name string, perm *Permission) error {
	if perm == nil {
		return ErrPermissionNotGiven
	}
	if !validRange(perm.Key, perm.RangeEnd) {
		return ErrInvalidAuthMgmt
	}
	r := s.Roles[name]
	if r == nil {
		return ErrRoleNotFound
	}
	i := sort.Search(len(r.Perms), func(i int) bool { return bytes.Compare(r.Perms[i].Key, perm.Key) >= 0 })
	if i < len(r.Perms) && bytes.Equal(r.Perms[i].Key, perm.Key) && bytes.Equal(r.Perms[i].RangeEnd, perm.RangeEnd) {
		r.Perms[i].Type = perm.Type
	} else {
		r.Perms = append(r.Perms, Permission{Type: perm.Type, Key: slices.Clone(perm.Key), RangeEnd: slices.Clone(perm.RangeEnd)})
		// Not stable, as etcd's sort.Sort: past 12 entries equal keys can change places, and
		// that order decides which entry a later grant overwrites.
		sort.Slice(r.Perms, func(i, j int) bool { return bytes.Compare(r.Perms[i].Key, r.Perms[j].Key) < 0 })
	}
	s.Revision++
	return nil
}

// RoleRevokePermission removes every permission of a role on exactly [key, end).
func (s *State) RoleRevokePermission(name string, key, end []byte) error {
	r := s.Roles[name]
	if r == nil {
		return ErrRoleNotFound
	}
	kept := r.Perms[:0]
	for _, p := range r.Perms {
		if !bytes.Equal(p.Key, key) || !bytes.Equal(p.RangeEnd, end) {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(r.Perms) {
		return ErrPermissionNotGranted
	}
	r.Perms = kept
	s.Revision++
	return nil
}

// CheckPassword verifies a user's password (outside the log, as etcd does) and returns the
// auth revision it was checked at.
func (s *State) CheckPassword(name, password string) (uint64, error) {
	hash, rev, err := s.Login(name)
	if err == nil {
		err = ComparePassword(hash, password)
	}
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// Login is the part of a password check that reads the state: the user's hash and the auth
// revision, or why nobody can log in as name. The comparison (bcrypt, slow on purpose) is
// ComparePassword's, to be made outside any lock on the state.
func (s *State) Login(name string) (hash []byte, rev uint64, err error) {
	if !s.Enabled {
		return nil, 0, ErrAuthNotEnabled
	}
	u := s.Users[name]
	if u == nil {
		return nil, 0, ErrAuthFailed
	}
	if u.NoPassword {
		return nil, 0, ErrNoPasswordUser
	}
	return slices.Clone(u.Password), s.Revision, nil
}

// ComparePassword checks password against a user's hash.
func ComparePassword(hash []byte, password string) error {
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return ErrAuthFailed
	}
	return nil
}

// HashPassword is the bcrypt hash a UserAdd or UserChangePassword proposes; cost outside
// [4, 31] is bcrypt's default, as etcd's --bcrypt-cost.
func HashPassword(password string, cost int) ([]byte, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		cost = bcrypt.DefaultCost
	}
	return bcrypt.GenerateFromPassword([]byte(password), cost)
}

// Access is what a key operation needs.
type Access int

const (
	AccessRead Access = iota
	AccessWrite
)

// Permitted is etcd's isOpPermitted: whether user, authenticated at auth revision rev, may
// read or write [key, end) (end empty: the key alone; "\x00": every key from key on).
func (s *State) Permitted(user string, rev uint64, key, end []byte, access Access) error {
	switch {
	case !s.Enabled:
		return nil
	case rev == 0:
		return ErrUserEmpty
	case rev < s.Revision:
		return ErrAuthOldRevision
	}
	u := s.Users[user]
	if u == nil {
		return ErrPermissionDenied
	}
	if slices.Contains(u.Roles, root) {
		return nil
	}
	if covered(s.intervals(u, access), key, end) {
		return nil
	}
	return ErrPermissionDenied
}

// interval is [begin, end), end nil meaning no end.
type interval struct{ begin, end []byte }

// intervals are the user's permitted intervals for access, sorted by begin.
func (s *State) intervals(u *User, access Access) []interval {
	var out []interval
	for _, name := range u.Roles {
		r := s.Roles[name]
		if r == nil {
			continue
		}
		for _, p := range r.Perms {
			ok := p.Type == ReadWrite || (access == AccessRead && p.Type == Read) || (access == AccessWrite && p.Type == Write)
			if !ok {
				continue
			}
			iv := interval{begin: p.Key}
			switch {
			case len(p.RangeEnd) == 0:
				iv.end = append(slices.Clone(p.Key), 0)
			case bytes.Equal(p.RangeEnd, []byte{0}):
				iv.end = nil
			default:
				iv.end = p.RangeEnd
			}
			out = append(out, iv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].begin, out[j].begin) < 0 })
	return out
}

// covered reports whether the union of ivs covers the request: the key alone (end empty), or
// [key, end) (end "\x00": to the end of the keyspace). An inverted range asks for its first
// key only, as etcd's interval tree answers it.
func covered(ivs []interval, key, end []byte) bool {
	contains := func(iv interval, k []byte) bool {
		return bytes.Compare(iv.begin, k) <= 0 && (iv.end == nil || bytes.Compare(k, iv.end) < 0)
	}
	toEnd := bytes.Equal(end, []byte{0})
	if len(end) == 0 || (!toEnd && bytes.Compare(end, key) <= 0) {
		for _, iv := range ivs {
			if contains(iv, key) {
				return true
			}
		}
		return false
	}
	cur := key // everything before cur is covered
	for _, iv := range ivs {
		if bytes.Compare(iv.begin, cur) > 0 {
			break // a gap at cur
		}
		if iv.end == nil {
			return true
		}
		if bytes.Compare(iv.end, cur) > 0 {
			cur = iv.end
		}
		if !toEnd && bytes.Compare(cur, end) >= 0 {
			return true
		}
	}
	return false
}
