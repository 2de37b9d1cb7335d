// Package wal is the member's durable Raft log: hard state and entries appended to one file
// and fsynced before anything they carry is applied or acknowledged, plus the snapshot the
// log starts after. A torn tail (a crash mid-write) is cut off on open: only records that were
// completely written, and so acknowledged only if fsynced, survive.
//
// Record layout: 4-byte big-endian length n, 4-byte CRC-32C of the payload, then n bytes of
// payload: a type byte followed by a marshalled raftpb message.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

const (
	recEntry     = 1
	recHardState = 2
	recSnapshot  = 3 // the log starts after this snapshot (metadata only)

	fileName = "log.wal"
	// maxRecord bounds a record read back, so a corrupt length fails instead of allocating.
	maxRecord = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// WAL is an open log. It is not safe for concurrent use; the node's Raft loop owns it.
type WAL struct {
	dir string
	f   *os.File
	w   *bufio.Writer
	buf []byte
	// ObserveSync, if set, is told how long each fsync took.
	ObserveSync func(time.Duration)
}

// State is what a log held when opened.
type State struct {
	Snapshot  raftpb.SnapshotMetadata
	HardState raftpb.HardState
	Entries   []raftpb.Entry
}

// Exists reports whether dir holds a log.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, fileName))
	return err == nil
}

// Open opens (creating if needed) the log in dir and reads it back.
func Open(dir string) (*WAL, State, error) {
	var st State
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, st, err
	}
	path := filepath.Join(dir, fileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, st, err
	}
	good, err := read(f, &st)
	if err != nil {
		f.Close()
		return nil, st, err
	}
	// Cut a torn tail, then append after the last good record.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, st, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, st, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, st, err
	}
	return &WAL{dir: dir, f: f, w: bufio.NewWriterSize(f, 1<<20)}, st, nil
}

// read replays every complete record into st and returns the offset after the last one.
func read(f *os.File, st *State) (int64, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil // end, or a torn header
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecord {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			return off, nil
		}
		if err := apply(st, payload); err != nil {
			return 0, fmt.Errorf("wal: record at offset %d: %w", off, err)
		}
		off += 8 + int64(n)
	}
}

func apply(st *State, p []byte) error {
	switch p[0] {
	case recEntry:
		var e raftpb.Entry
		if err := e.Unmarshal(p[1:]); err != nil {
			return err
		}
		// A later entry at an index replaces it and everything after (a Raft log overwrite).
		for len(st.Entries) > 0 && st.Entries[len(st.Entries)-1].Index >= e.Index {
			st.Entries = st.Entries[:len(st.Entries)-1]
		}
		if e.Index > st.Snapshot.Index {
			st.Entries = append(st.Entries, e)
		}
	case recHardState:
		return st.HardState.Unmarshal(p[1:])
	case recSnapshot:
		var m raftpb.SnapshotMetadata
		if err := m.Unmarshal(p[1:]); err != nil {
			return err
		}
		st.Snapshot = m
		for len(st.Entries) > 0 && st.Entries[0].Index <= m.Index {
			st.Entries = st.Entries[1:]
		}
	default:
		return fmt.Errorf("unknown record type %d", p[0])
	}
	return nil
}

type marshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

func (w *WAL) append(typ byte, m marshaler) error {
	n := m.Size() + 1
	if cap(w.buf) < 8+n {
		w.buf = make([]byte, 8+n)
	}
	b := w.buf[:8+n]
	b[8] = typ
	if _, err := m.MarshalToSizedBuffer(b[9:]); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(b[:4], uint32(n))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crcTable))
	_, err := w.w.Write(b)
	return err
}

// Save appends the entries and, if it is not empty, the hard state; with sync it flushes
// and fsyncs before returning, so that the caller may then acknowledge them.
func (w *WAL) Save(hs raftpb.HardState, ents []raftpb.Entry, sync bool) error {
	for i := range ents {
		if err := w.append(recEntry, &ents[i]); err != nil {
			return err
		}
	}
	if !isEmptyHardState(hs) {
		if err := w.append(recHardState, &hs); err != nil {
			return err
		}
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	start := time.Now()
	err := w.f.Sync()
	if w.ObserveSync != nil {
		w.ObserveSync(time.Since(start))
	}
	return err
}

func isEmptyHardState(hs raftpb.HardState) bool {
	return hs.Term == 0 && hs.Vote == 0 && hs.Commit == 0
}

// Compact rewrites the log to start after snapshot meta: a new file holding meta, hs and the
// entries after meta.Index replaces the old one atomically.
func (w *WAL) Compact(meta raftpb.SnapshotMetadata, hs raftpb.HardState, ents []raftpb.Entry) error {
	tmp := filepath.Join(w.dir, fileName+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	nw := &WAL{dir: w.dir, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	err = nw.append(recSnapshot, &meta)
	for i := range ents {
		if err == nil && ents[i].Index > meta.Index {
			err = nw.append(recEntry, &ents[i])
		}
	}
	if err == nil {
		err = nw.Save(hs, nil, true)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(w.dir, fileName))
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("wal: compact: %w", err)
	}
	w.f.Close()
	w.f, w.w = f, nw.w
	return nil
}

// Close flushes and closes the log.
func (w *WAL) Close() error {
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
