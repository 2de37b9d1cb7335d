package backend

import (
	"slices"
	"strings"
	"sync"

	"github.com/google/btree"

	"github.com/metastore/metastore/core/kv"
)

// Memory is a Backend held entirely in memory: a B-tree of records ordered by revision.
type Memory struct {
	mu    sync.RWMutex // guards tree, meta and bytes
	tree  *btree.BTreeG[*Record]
	meta  map[string][]byte
	bytes int64 // key and value bytes of the records held
}

var _ Backend = (*Memory)(nil)

func recordLess(a, b *Record) bool { return a.Rev.Less(b.Rev) }

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory {
	return &Memory{tree: btree.NewG(32, recordLess), meta: map[string][]byte{}}
}

func (m *Memory) Get(rev kv.Revision) (*Record, bool) {
	m.mu.RLock()
	r, ok := m.tree.Get(&Record{Rev: rev})
	m.mu.RUnlock()
	return r, ok
}

func (m *Memory) Ascend(from, to int64, fn func(*Record) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.tree.AscendGreaterOrEqual(&Record{Rev: kv.Revision{Main: from}}, func(r *Record) bool {
		if to > 0 && r.Rev.Main >= to {
			return false
		}
		return fn(r)
	})
}

func (m *Memory) Commit(b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range b.Puts {
		r := b.Puts[i] // copy: the batch is reused by the caller
		if old, ok := m.tree.ReplaceOrInsert(&r); ok {
			m.bytes -= recordBytes(old)
		}
		m.bytes += recordBytes(&r)
	}
	for _, rev := range b.Deletes {
		if old, ok := m.tree.Delete(&Record{Rev: rev}); ok {
			m.bytes -= recordBytes(old)
		}
	}
	for _, e := range b.Meta {
		if e.Value == nil {
			delete(m.meta, e.Key)
		} else {
			m.meta[e.Key] = append([]byte(nil), e.Value...)
		}
	}
	return nil
}

func (m *Memory) Meta(key string) ([]byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.meta[key]
	return v, ok
}

func (m *Memory) AscendMeta(prefix string, fn func(key string, value []byte) bool) {
	m.mu.RLock()
	var keys []string
	for k := range m.meta {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	vals := make([][]byte, len(keys))
	slices.Sort(keys)
	for i, k := range keys {
		vals[i] = m.meta[k]
	}
	m.mu.RUnlock()
	for i, k := range keys {
		if !fn(k, vals[i]) {
			return
		}
	}
}

func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tree.Len()
}

func (m *Memory) Close() error { return nil }

// Size returns the bytes of keys and values held, plus a fixed cost per record.
func (m *Memory) Size() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bytes
}

func recordBytes(r *Record) int64 { return int64(len(r.KV.Key)+len(r.KV.Value)) + recordOverhead }

// recordOverhead approximates what a record costs beyond its key and value.
const recordOverhead = 64

// Clone returns a frozen copy sharing the tree copy-on-write: O(1) now, the cost paid by
// later writes to either tree, node by node.
func (m *Memory) Clone() Backend {
	m.mu.Lock() // btree's Clone must not run concurrently with anything else on the tree
	defer m.mu.Unlock()
	meta := make(map[string][]byte, len(m.meta))
	for k, v := range m.meta {
		meta[k] = v
	}
	return &Memory{tree: m.tree.Clone(), meta: meta, bytes: m.bytes}
}
