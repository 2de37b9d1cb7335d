package core

import (
	"encoding/binary"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/lease"
)

// Leases are kept in the backend's metadata, so a persistent backend brings them back on
// restart: "lease/" + 8-byte ID → TTL, and after CheckpointLeases also the milliseconds that
// were left. A lease comes back with that remaining time if it was checkpointed (a clean
// stop), else with a fresh TTL, as in etcd.
const leaseMetaPrefix = "lease/"

// A replicated checkpoint (LeaseCheckpoint) is kept apart: "leasecp/" + 8-byte ID → the
// remaining TTL in seconds, as etcd persists remainingTTL with the lease.
const leaseCheckpointPrefix = "leasecp/"

func leaseCheckpointKey(id int64) string {
	return leaseCheckpointPrefix + string(binary.BigEndian.AppendUint64(nil, uint64(id)))
}

func leaseCheckpointMeta(id, remaining int64) backend.MetaEntry {
	e := backend.MetaEntry{Key: leaseCheckpointKey(id)}
	if remaining > 0 {
		e.Value = binary.AppendVarint(nil, remaining)
	}
	return e
}

func leaseMetaKey(id int64) string {
	return leaseMetaPrefix + string(binary.BigEndian.AppendUint64(nil, uint64(id)))
}

func leaseMeta(id, ttl int64) backend.MetaEntry {
	return backend.MetaEntry{Key: leaseMetaKey(id), Value: binary.AppendVarint(nil, ttl)}
}

// storedLeases reads the leases a backend holds, and reports whether any came with a
// checkpointed remaining time.
func storedLeases(b backend.Backend) (es []lease.Entry, checkpointed bool) {
	b.AscendMeta(leaseMetaPrefix, func(k string, v []byte) bool {
		ttl, n := binary.Varint(v)
		if len(k) != len(leaseMetaPrefix)+8 || n <= 0 || ttl <= 0 {
			return true
		}
		e := lease.Entry{ID: int64(binary.BigEndian.Uint64([]byte(k[len(leaseMetaPrefix):]))), TTL: ttl, Remaining: secs(ttl)}
		if ms, m := binary.Varint(v[n:]); m > 0 {
			e.Remaining = time.Duration(ms) * time.Millisecond
			checkpointed = true
		}
		es = append(es, e)
		return true
	})
	cps := map[int64]int64{}
	b.AscendMeta(leaseCheckpointPrefix, func(k string, v []byte) bool {
		if r, n := binary.Varint(v); len(k) == len(leaseCheckpointPrefix)+8 && n > 0 && r > 0 {
			cps[int64(binary.BigEndian.Uint64([]byte(k[len(leaseCheckpointPrefix):])))] = r
		}
		return true
	})
	for i := range es {
		es[i].Checkpoint = cps[es[i].ID]
	}
	return es, checkpointed
}

// CheckpointLeases records every lease's remaining time in the backend, so that a restart
// after a clean stop resumes the countdowns instead of granting fresh TTLs. The next open
// clears the checkpoint (a keep-alive after it would make it stale).
func (s *Store) CheckpointLeases() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.saveLeases(s.lessor.Entries(), true)
}

// saveLeases records leases in the backend, with the time they have left if checkpoint.
func (s *Store) saveLeases(entries []lease.Entry, checkpoint bool) error {
	metas := make([]backend.MetaEntry, 0, len(entries))
	for _, e := range entries {
		m := leaseMeta(e.ID, e.TTL)
		if checkpoint {
			m.Value = binary.AppendVarint(m.Value, max(e.Remaining.Milliseconds(), 0))
		}
		metas = append(metas, m)
		if e.Checkpoint > 0 {
			metas = append(metas, leaseCheckpointMeta(e.ID, e.Checkpoint))
		}
	}
	return s.kv.CommitMeta(metas...)
}

// LeaseGrant creates a lease. An ID of 0 makes the store pick one (under Raft the server
// picks it before proposing, so that every replica applies the same ID). Granting changes
// no revision.
func (s *Store) LeaseGrant(r *LeaseGrantRequest) (*LeaseGrantResponse, error) {
	id := r.ID
	for id == 0 {
		id = s.cfg.IDs.Next()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	ttl, err := s.lessor.Grant(id, r.TTL)
	if err != nil {
		return nil, err
	}
	if err := s.kv.CommitMeta(leaseMeta(id, ttl)); err != nil {
		s.lessor.Remove(id)
		return nil, err
	}
	return &LeaseGrantResponse{Header: ResponseHeader{Revision: s.kv.Rev()}, ID: id, TTL: ttl}, nil
}

// LeaseRevoke deletes a lease and every key attached to it, in one revision (none if it
// holds no keys), keys in sorted order.
func (s *Store) LeaseRevoke(id int64) (*LeaseRevokeResponse, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	keys, err := s.lessor.Keys(id)
	if err != nil {
		return nil, err
	}
	tx := s.kv.Write()
	for _, k := range keys {
		tx.DeleteRange(k, nil)
	}
	tx.AddMeta(backend.MetaEntry{Key: leaseMetaKey(id)})
	tx.AddMeta(backend.MetaEntry{Key: leaseCheckpointKey(id)})
	rev := tx.Rev()
	if err := s.lessor.Remove(id); err != nil {
		tx.End()
		return nil, err
	}
	tx.End()
	return &LeaseRevokeResponse{Header: ResponseHeader{Revision: rev}}, nil
}

// LeaseCheckpoint applies the leader's checkpoints: each lease's remaining TTL is recorded
// (0 clears it) for a future leader to count down from. Unknown leases are skipped, as in
// etcd. It changes no revision.
func (s *Store) LeaseCheckpoint(cps []LeaseCheckpoint) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var metas []backend.MetaEntry
	for _, c := range cps {
		if s.lessor.Checkpoint(c.ID, c.RemainingTTL) {
			metas = append(metas, leaseCheckpointMeta(c.ID, c.RemainingTTL))
		}
	}
	if len(metas) == 0 {
		return nil
	}
	return s.kv.CommitMeta(metas...)
}

// LeaseCheckpointed reports whether lease id holds a checkpoint that its renewal must clear.
func (s *Store) LeaseCheckpointed(id int64) bool { return s.lessor.Checkpointed(id) }

// LeaseKeepAlive renews a lease to its full TTL. An unknown or expired lease answers TTL 0,
// not an error, as etcd's keep-alive stream does.
func (s *Store) LeaseKeepAlive(id int64) *LeaseKeepAliveResponse {
	resp := &LeaseKeepAliveResponse{ID: id}
	if ttl, err := s.lessor.Renew(id); err == nil {
		resp.TTL = ttl
	}
	resp.Header.Revision = s.kv.Rev()
	return resp
}

// LeaseTimeToLive describes a lease; an unknown one answers TTL -1, not an error.
func (s *Store) LeaseTimeToLive(id int64, keys bool) *LeaseTimeToLiveResponse {
	resp := &LeaseTimeToLiveResponse{ID: id, TTL: -1}
	if info, ok := s.lessor.TimeToLive(id, keys); ok {
		resp.TTL, resp.GrantedTTL, resp.Keys = info.TTL, info.GrantedTTL, info.Keys
	}
	resp.Header.Revision = s.kv.Rev()
	return resp
}

// LeaseLeases lists every lease ID.
func (s *Store) LeaseLeases() *LeaseLeasesResponse {
	return &LeaseLeasesResponse{Header: ResponseHeader{Revision: s.kv.Rev()}, Leases: s.lessor.Leases()}
}

// ExpiredLeases returns up to limit (0 = all) leases whose TTL ran out on the store's clock.
// The caller revokes them with LeaseRevoke; a lease not revoked is reported again later.
func (s *Store) ExpiredLeases(limit int) []int64 { return s.lessor.Expired(limit) }

// PromoteLeases gives every lease a fresh TTL plus extend, as a new leader must.
func (s *Store) PromoteLeases(extend int64) {
	s.lessor.Promote(secs(extend))
}

// Lessor exposes the lessor, for snapshots and the server's bookkeeping.
func (s *Store) Lessor() *lease.Lessor { return s.lessor }
