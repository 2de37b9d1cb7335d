package core

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/lease"
	"github.com/metastore/metastore/core/mvcc"
)

// A snapshot is the whole state as a byte stream:
//
//	"MSNAP" 0x02 | mvcc section | lease count, then (ID, TTL, remaining ms, checkpointed
//	remaining TTL s) each | auth store length, then its JSON | CRC-32C of everything before
//	it, 4 bytes big-endian
//
// Version 0x01 (no checkpoint per lease, no auth store) is still read.
// It serves Raft snapshots, the server's Snapshot RPC payload and the playground's
// export/import.
var (
	snapshotMagic   = []byte("MSNAP\x02")
	snapshotMagicV1 = []byte("MSNAP\x01")
)

// ErrBadSnapshot is returned (wrapped) for a stream that is not a valid snapshot.
var ErrBadSnapshot = mvcc.ErrBadSnapshot

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is the store's state captured at one moment, to be written out later (by another
// goroutine if need be) while the store goes on.
type Snapshot struct {
	kv     *mvcc.View
	leases []lease.Entry
	auth   []byte
}

// Snapshot captures the state between two writes. It is quick when the backend can clone
// itself; see mvcc.Store.View.
func (s *Store) Snapshot() *Snapshot {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sn := &Snapshot{kv: s.kv.View(), leases: s.lessor.Entries()}
	s.AuthView(func(st *auth.State) { sn.auth, _ = encodeAuth(st) })
	return sn
}

// WriteSnapshot writes the store's current state to w.
func (s *Store) WriteSnapshot(w io.Writer) error { return s.Snapshot().Encode(w) }

// Encode writes the captured state in the snapshot format. A Snapshot is written once.
func (sn *Snapshot) Encode(w io.Writer) error {
	h := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, h))
	bw.Write(snapshotMagic)
	if err := sn.kv.Encode(bw); err != nil {
		return err
	}
	var buf []byte
	buf = binary.AppendUvarint(buf, uint64(len(sn.leases)))
	for _, e := range sn.leases {
		buf = binary.AppendVarint(buf, e.ID)
		buf = binary.AppendVarint(buf, e.TTL)
		buf = binary.AppendVarint(buf, e.Remaining.Milliseconds())
		buf = binary.AppendVarint(buf, e.Checkpoint)
	}
	buf = binary.AppendUvarint(buf, uint64(len(sn.auth)))
	buf = append(buf, sn.auth...)
	bw.Write(buf)
	if err := bw.Flush(); err != nil {
		return err
	}
	return binary.Write(w, binary.BigEndian, h.Sum32())
}

// Restore opens a store from a snapshot written by WriteSnapshot. cfg.Backend, if set, must
// be empty. The stream is read once, in order, and its records are written into the backend
// as they come, so a snapshot much larger than memory can be restored; the checksum is
// verified at the end, before a store is made. If Restore fails, the backend may hold part
// of the snapshot: the caller discards it.
func Restore(r io.Reader, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if cfg.Backend.Len() != 0 {
		return nil, errors.New("core: restore needs an empty backend")
	}
	cr := newSumReader(r)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(cr, magic); err != nil {
		return nil, fmt.Errorf("%w: not a MetaStore snapshot", ErrBadSnapshot)
	}
	v1 := bytes.Equal(magic, snapshotMagicV1)
	if !v1 && !bytes.Equal(magic, snapshotMagic) {
		return nil, fmt.Errorf("%w: not a MetaStore snapshot", ErrBadSnapshot)
	}
	if err := mvcc.RestoreSnapshot(cr, cfg.Backend); err != nil {
		return nil, err
	}
	n, err := binary.ReadUvarint(cr)
	if err != nil {
		return nil, fmt.Errorf("%w: lease count", ErrBadSnapshot)
	}
	// Each lease takes at least three bytes, so a count the stream cannot hold fails at
	// its end; the slice grows with what is read, not with what the count claims.
	entries := make([]lease.Entry, 0, min(n, 1024))
	for i := uint64(0); i < n; i++ {
		var e lease.Entry
		var ms int64
		fields := []*int64{&e.ID, &e.TTL, &ms, &e.Checkpoint}
		if v1 {
			fields = fields[:3]
		}
		for _, p := range fields {
			if *p, err = binary.ReadVarint(cr); err != nil {
				return nil, fmt.Errorf("%w: lease %d", ErrBadSnapshot, i)
			}
		}
		if e.ID == 0 || e.TTL < 1 || e.TTL > lease.MaxLeaseTTL || e.Checkpoint < 0 {
			return nil, fmt.Errorf("%w: lease %d: bad ID %d or TTL %d", ErrBadSnapshot, i, e.ID, e.TTL)
		}
		e.Remaining = time.Duration(ms) * time.Millisecond
		entries = append(entries, e)
	}
	var authJSON []byte
	if !v1 {
		n, err := binary.ReadUvarint(cr)
		if err != nil {
			return nil, fmt.Errorf("%w: auth store length", ErrBadSnapshot)
		}
		authJSON, err = io.ReadAll(io.LimitReader(cr, int64(min(n, math.MaxInt64))))
		if err != nil || uint64(len(authJSON)) != n {
			return nil, fmt.Errorf("%w: auth store length", ErrBadSnapshot)
		}
	}
	sum := cr.Sum32()
	var trailer [4]byte
	if _, err := io.ReadFull(cr, trailer[:]); err != nil {
		return nil, fmt.Errorf("%w: no checksum at the end", ErrBadSnapshot)
	}
	if binary.BigEndian.Uint32(trailer[:]) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	if _, err := cr.ReadByte(); err == nil {
		return nil, fmt.Errorf("%w: trailing bytes after the checksum", ErrBadSnapshot)
	} else if err != io.EOF {
		return nil, fmt.Errorf("core: read snapshot: %w", err)
	}
	if len(authJSON) > 0 {
		if _, err := decodeAuth(authJSON); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
		if err := cfg.Backend.Commit(&backend.Batch{Meta: []backend.MetaEntry{{Key: authMetaKey, Value: authJSON}}}); err != nil {
			return nil, err
		}
	}
	s, err := newWithLeases(cfg, entries) // loads the auth store just recorded
	if err != nil {
		return nil, err
	}
	// Record the leases in the backend too, as LeaseGrant does.
	if err := s.saveLeases(entries, false); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// newWithLeases opens a store whose lessor holds entries before the index is rebuilt, so
// recovered keys re-attach to their leases.
func newWithLeases(cfg Config, entries []lease.Entry) (*Store, error) {
	st, err := loadAuth(cfg.Backend)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, auth: st}
	s.lessor = lease.New(lease.Config{Clock: cfg.Clock, MinTTL: cfg.MinLeaseTTL})
	for _, e := range entries {
		if err := s.lessor.Restore(e); err != nil {
			return nil, fmt.Errorf("%w: lease %d: %v", ErrBadSnapshot, e.ID, err)
		}
	}
	kvs, err := mvcc.New(mvcc.Config{Backend: cfg.Backend, Leases: s.lessor, Clock: cfg.Clock, PaceClock: cfg.PaceClock, Watch: cfg.Watch,
		CompactionBatchLimit: cfg.CompactionBatchLimit, CompactionSleepInterval: cfg.CompactionSleepInterval,
		OnCompactionError: cfg.OnCompactionError})
	if err != nil {
		return nil, err
	}
	s.kv = kvs
	return s, nil
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }
