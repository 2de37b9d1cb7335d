package node

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/metastore/metastore/core/backend"
)

// Member is one member of the cluster, as etcd's membership knows it.
type Member struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name,omitempty"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs,omitempty"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

// MemberID derives a member's ID from its peer URLs and the cluster token, as etcd does
// (the first 8 bytes of a SHA-1), so that the same configuration gives the same ID.
func MemberID(peerURLs []string, token string) uint64 {
	urls := append([]string(nil), peerURLs...)
	sort.Strings(urls)
	sum := sha1.Sum([]byte(strings.Join(urls, "") + token))
	return binary.BigEndian.Uint64(sum[:8])
}

// ClusterID derives the cluster ID from its member IDs.
func ClusterID(members []uint64) uint64 {
	ids := append([]uint64(nil), members...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// ParseInitialCluster reads etcd's --initial-cluster ("name=url,name=url2,other=url3": a
// name may appear more than once, once per peer URL) into members with their IDs, in the
// order the names first appear.
func ParseInitialCluster(v, token string) ([]Member, error) {
	var out []Member
	idx := map[string]int{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("--initial-cluster: bad member %q (want name=url)", part)
		}
		i, seen := idx[name]
		if !seen {
			i = len(out)
			idx[name] = i
			out = append(out, Member{Name: name})
		}
		out[i].PeerURLs = append(out[i].PeerURLs, u)
	}
	urls := map[string]string{}
	for i := range out {
		for _, u := range out[i].PeerURLs {
			if other, dup := urls[u]; dup {
				return nil, fmt.Errorf("--initial-cluster: peer URL %s is given to both %s and %s", u, other, out[i].Name)
			}
			urls[u] = out[i].Name
		}
		out[i].ID = MemberID(out[i].PeerURLs, token)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--initial-cluster is empty")
	}
	return out, nil
}

// Membership metadata in the backend: "member/" + 8-byte ID → JSON; "removed/" + ID →
// empty. Written only by applying log entries, so every member holds the same list.
const (
	memberMetaPrefix  = "member/"
	removedMetaPrefix = "removed/"
	// rejectedMetaPrefix + 8-byte log index: a conf change every member refused.
	rejectedMetaPrefix = "rejected/"
	// identityMetaKey records which member of which cluster a data dir belongs to.
	identityMetaKey = "identity"
)

func idKey(prefix string, id uint64) string {
	return prefix + string(binary.BigEndian.AppendUint64(nil, id))
}

// membership is the replicated member list.
type membership struct {
	mu      sync.RWMutex
	members map[uint64]*Member
	removed map[uint64]bool
}

func newMembership() *membership {
	return &membership{members: map[uint64]*Member{}, removed: map[uint64]bool{}}
}

func (m *membership) load(db interface {
	AscendMeta(prefix string, fn func(k string, v []byte) bool)
}) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	db.AscendMeta(memberMetaPrefix, func(k string, v []byte) bool {
		var mem Member
		if err = json.Unmarshal(v, &mem); err != nil {
			err = fmt.Errorf("membership record %q: %w", k, err)
			return false
		}
		m.members[mem.ID] = &mem
		return true
	})
	db.AscendMeta(removedMetaPrefix, func(k string, _ []byte) bool {
		if b := []byte(k[len(removedMetaPrefix):]); len(b) == 8 {
			m.removed[binary.BigEndian.Uint64(b)] = true
		}
		return true
	})
	return err
}

// list returns the members sorted by ID (a copy).
func (m *membership) list() []Member {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		c := *mem
		c.PeerURLs = slices.Clone(mem.PeerURLs)
		c.ClientURLs = slices.Clone(mem.ClientURLs)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *membership) get(id uint64) (Member, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mem, ok := m.members[id]
	if !ok {
		return Member{}, false
	}
	return *mem, true
}

func (m *membership) removedIDs() []uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]uint64, 0, len(m.removed))
	for id := range m.removed {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *membership) isRemoved(id uint64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.removed[id]
}

// set records a member (added or changed) and returns the metadata to commit.
func (m *membership) set(mem Member) backend.MetaEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := mem
	m.members[mem.ID] = &c
	b, _ := json.Marshal(c)
	return backend.MetaEntry{Key: idKey(memberMetaPrefix, mem.ID), Value: b}
}

// remove drops a member for good and returns the metadata to commit.
func (m *membership) remove(id uint64) []backend.MetaEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.members, id)
	m.removed[id] = true
	return []backend.MetaEntry{{Key: idKey(memberMetaPrefix, id)}, {Key: idKey(removedMetaPrefix, id), Value: []byte{1}}}
}

// peerURLUsed reports the member already using one of urls (other than except).
func (m *membership) peerURLUsed(urls []string, except uint64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for id, mem := range m.members {
		if id == except {
			continue
		}
		for _, u := range mem.PeerURLs {
			if slices.Contains(urls, u) {
				return true
			}
		}
	}
	return false
}

// identity is what a data dir records about whom it belongs to.
type identity struct {
	MemberID  uint64 `json:"memberID"`
	ClusterID uint64 `json:"clusterID"`
	Name      string `json:"name"`
}
