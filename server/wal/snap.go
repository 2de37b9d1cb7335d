package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"

	"go.etcd.io/raft/v3/raftpb"
)

// SaveSnapshot writes a Raft snapshot (metadata and the state machine's bytes) to dir as
// <term>-<index>.snap, durably (written to a temporary file, fsynced, renamed), and removes
// older snapshots.
func SaveSnapshot(dir string, s raftpb.Snapshot) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	name := fmt.Sprintf("%016x-%016x.snap", s.Metadata.Term, s.Metadata.Index)
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("wal: save snapshot: %w", err)
	}
	names, _ := snapNames(dir)
	for _, n := range names {
		if n != name {
			os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

// LoadSnapshot returns the newest valid snapshot in dir whose index is at most maxIndex, and
// false if there is none.
func LoadSnapshot(dir string, maxIndex uint64) (raftpb.Snapshot, bool, error) {
	names, err := snapNames(dir)
	if err != nil {
		return raftpb.Snapshot{}, false, err
	}
	for i := len(names) - 1; i >= 0; i-- {
		b, err := os.ReadFile(filepath.Join(dir, names[i]))
		if err != nil || len(b) < 4 {
			continue
		}
		body := b[:len(b)-4]
		if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[len(b)-4:]) {
			continue
		}
		var s raftpb.Snapshot
		if err := s.Unmarshal(body); err != nil || s.Metadata.Index > maxIndex {
			continue
		}
		return s, true, nil
	}
	return raftpb.Snapshot{}, false, nil
}

func snapNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".snap" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
