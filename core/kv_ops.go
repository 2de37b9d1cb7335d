package core

import (
	"sort"

	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

// mkGteRange turns etcd's range_end into the MVCC layer's: "" → nil (one key), "\x00" →
// empty non-nil (no upper bound), anything else as is.
func mkGteRange(end []byte) []byte {
	switch {
	case len(end) == 0:
		return nil
	case len(end) == 1 && end[0] == 0:
		return []byte{}
	}
	return end
}

func checkRange(r *RangeRequest) error {
	if len(r.Key) == 0 {
		return ErrEmptyKey
	}
	if r.SortOrder < SortNone || r.SortOrder > SortDescend {
		return ErrInvalidSortOption
	}
	if r.SortTarget < SortByKey || r.SortTarget > SortByValue {
		return ErrInvalidSortOption
	}
	return nil
}

func checkPut(r *PutRequest) error {
	if len(r.Key) == 0 {
		return ErrEmptyKey
	}
	if r.IgnoreValue && len(r.Value) != 0 {
		return ErrValueProvided
	}
	if r.IgnoreLease && r.Lease != 0 {
		return ErrLeaseProvided
	}
	return nil
}

func checkDelete(r *DeleteRangeRequest) error {
	if len(r.Key) == 0 {
		return ErrEmptyKey
	}
	return nil
}

// Range reads keys. Serializable makes no difference to a single store; the server decides
// how linearizable reads are served.
func (s *Store) Range(r *RangeRequest) (*RangeResponse, error) {
	if err := checkRange(r); err != nil {
		return nil, err
	}
	tx := s.kv.Read()
	defer tx.End()
	return execRange(tx, r)
}

// execRange is etcd's executeRange: fetch, filter, sort, truncate.
func execRange(rv mvcc.ReadView, r *RangeRequest) (*RangeResponse, error) {
	limit := r.Limit
	if r.SortOrder != SortNone || r.MinModRevision != 0 || r.MaxModRevision != 0 ||
		r.MinCreateRevision != 0 || r.MaxCreateRevision != 0 {
		// Sorting or filtering needs every key before the limit applies.
		limit = 0
	}
	if limit > 0 {
		// One more than asked, to learn whether there is more.
		limit++
	}
	rr, err := rv.Range(r.Key, mkGteRange(r.RangeEnd), mvcc.RangeOptions{Limit: limit, Rev: r.Revision, Count: r.CountOnly})
	if err != nil {
		return nil, err
	}
	kvs := rr.KVs
	if r.MaxModRevision != 0 {
		kvs = filterKVs(kvs, func(kv *kv.KeyValue) bool { return kv.ModRevision <= r.MaxModRevision })
	}
	if r.MinModRevision != 0 {
		kvs = filterKVs(kvs, func(kv *kv.KeyValue) bool { return kv.ModRevision >= r.MinModRevision })
	}
	if r.MaxCreateRevision != 0 {
		kvs = filterKVs(kvs, func(kv *kv.KeyValue) bool { return kv.CreateRevision <= r.MaxCreateRevision })
	}
	if r.MinCreateRevision != 0 {
		kvs = filterKVs(kvs, func(kv *kv.KeyValue) bool { return kv.CreateRevision >= r.MinCreateRevision })
	}
	sortKVs(kvs, r.SortOrder, r.SortTarget)
	resp := &RangeResponse{Header: ResponseHeader{Revision: rr.Rev}, Count: int64(rr.Count)}
	if r.Limit > 0 && len(kvs) > int(r.Limit) {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	if r.KeysOnly {
		for i := range kvs {
			kvs[i].Value = nil
		}
	}
	resp.Kvs = kvs
	return resp, nil
}

func filterKVs(kvs []kv.KeyValue, keep func(*kv.KeyValue) bool) []kv.KeyValue {
	j := 0
	for i := range kvs {
		if keep(&kvs[i]) {
			kvs[j] = kvs[i]
			j++
		}
	}
	return kvs[:j]
}

// sortKVs sorts as etcd does, with sort.Sort (not stable) over the same comparisons, so that
// ties come out in the same order as etcd's. A target other than KEY with no order sorts
// ascending; KEY ascending is the order keys already have.
func sortKVs(kvs []kv.KeyValue, order SortOrder, target SortTarget) {
	if target != SortByKey && order == SortNone {
		order = SortAscend
	}
	if target == SortByKey && order == SortAscend {
		order = SortNone
	}
	if order == SortNone {
		return
	}
	var sorter sort.Interface
	switch target {
	case SortByKey:
		sorter = byKey(kvs)
	case SortByVersion:
		sorter = byVersion(kvs)
	case SortByCreate:
		sorter = byCreate(kvs)
	case SortByMod:
		sorter = byMod(kvs)
	case SortByValue:
		sorter = byValue(kvs)
	}
	if order == SortAscend {
		sort.Sort(sorter)
	} else {
		sort.Sort(sort.Reverse(sorter))
	}
}

type byKey []kv.KeyValue

func (s byKey) Len() int           { return len(s) }
func (s byKey) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byKey) Less(i, j int) bool { return string(s[i].Key) < string(s[j].Key) }

type byVersion []kv.KeyValue

func (s byVersion) Len() int           { return len(s) }
func (s byVersion) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byVersion) Less(i, j int) bool { return s[i].Version < s[j].Version }

type byCreate []kv.KeyValue

func (s byCreate) Len() int           { return len(s) }
func (s byCreate) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byCreate) Less(i, j int) bool { return s[i].CreateRevision < s[j].CreateRevision }

type byMod []kv.KeyValue

func (s byMod) Len() int           { return len(s) }
func (s byMod) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byMod) Less(i, j int) bool { return s[i].ModRevision < s[j].ModRevision }

type byValue []kv.KeyValue

func (s byValue) Len() int           { return len(s) }
func (s byValue) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byValue) Less(i, j int) bool { return string(s[i].Value) < string(s[j].Value) }

// Put writes a key.
func (s *Store) Put(r *PutRequest) (*PutResponse, error) {
	if err := checkPut(r); err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if r.Lease != 0 && !s.lessor.Exists(r.Lease) {
		return nil, ErrLeaseNotFound
	}
	tx := s.kv.Write()
	defer tx.End()
	return execPut(tx, r)
}

// execPut is etcd's put inside a write transaction.
func execPut(tx mvcc.TxnWrite, r *PutRequest) (*PutResponse, error) {
	resp := &PutResponse{}
	value, leaseID := r.Value, r.Lease
	if r.IgnoreValue || r.IgnoreLease || r.PrevKv {
		rr, err := tx.Range(r.Key, nil, mvcc.RangeOptions{})
		if err != nil {
			return nil, err
		}
		var prev *kv.KeyValue
		if len(rr.KVs) > 0 {
			prev = &rr.KVs[0]
		}
		if (r.IgnoreValue || r.IgnoreLease) && prev == nil {
			return nil, ErrKeyNotFound
		}
		if r.IgnoreValue {
			value = prev.Value
		}
		if r.IgnoreLease {
			leaseID = prev.Lease
		}
		if r.PrevKv && prev != nil {
			resp.PrevKv = prev
		}
	}
	resp.Header.Revision = tx.Put(r.Key, value, leaseID)
	return resp, nil
}

// DeleteRange deletes keys.
func (s *Store) DeleteRange(r *DeleteRangeRequest) (*DeleteRangeResponse, error) {
	if err := checkDelete(r); err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx := s.kv.Write()
	defer tx.End()
	return execDelete(tx, r)
}

func execDelete(tx mvcc.TxnWrite, r *DeleteRangeRequest) (*DeleteRangeResponse, error) {
	resp := &DeleteRangeResponse{}
	end := mkGteRange(r.RangeEnd)
	if r.PrevKv {
		rr, err := tx.Range(r.Key, end, mvcc.RangeOptions{})
		if err != nil {
			return nil, err
		}
		resp.PrevKvs = rr.KVs
	}
	resp.Deleted, resp.Header.Revision = tx.DeleteRange(r.Key, end)
	return resp, nil
}
