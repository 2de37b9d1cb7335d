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
	"sort"

	"go.etcd.io/raft/v3/raftpb"
)

// Snapshot file layout: "MSNP" | 4-byte metadata length | marshalled raftpb.SnapshotMetadata |
// the state machine's data | CRC-32C of everything before it. The data is streamed in and out,
// so a snapshot never needs to sit in memory whole.
var snapFileMagic = []byte("MSNP")

// SaveSnapshot writes a snapshot to dir as <term>-<index>.snap: the metadata, then whatever
// fill writes. It is durable when SaveSnapshot returns (temporary file, fsync, rename), and
// older snapshots are removed. It returns the file's size.
func SaveSnapshot(dir string, meta raftpb.SnapshotMetadata, fill func(io.Writer) error) (int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	name := fmt.Sprintf("%016x-%016x.snap", meta.Term, meta.Index)
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	size, err := writeSnap(f, meta, fill)
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
		return 0, fmt.Errorf("wal: save snapshot: %w", err)
	}
	names, _ := snapNames(dir)
	for _, n := range names {
		if n != name {
			os.Remove(filepath.Join(dir, n))
		}
	}
	return size, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeSnap(f *os.File, meta raftpb.SnapshotMetadata, fill func(io.Writer) error) (int64, error) {
	bw := bufio.NewWriterSize(f, 1<<20)
	h := crc32.New(crcTable)
	cw := &countWriter{w: io.MultiWriter(bw, h)}
	m, err := meta.Marshal()
	if err != nil {
		return 0, err
	}
	cw.Write(snapFileMagic)
	cw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(m))))
	cw.Write(m)
	if err := fill(cw); err != nil {
		return 0, err
	}
	if _, err := bw.Write(binary.BigEndian.AppendUint32(nil, h.Sum32())); err != nil {
		return 0, err
	}
	return cw.n + 4, bw.Flush()
}

// Snapshot is an opened snapshot file whose checksum has been verified.
type Snapshot struct {
	Metadata raftpb.SnapshotMetadata
	// Data reads the state machine's bytes.
	Data io.Reader
	f    *os.File
}

// Close closes the file.
func (s *Snapshot) Close() error { return s.f.Close() }

// LoadSnapshot opens the newest snapshot in dir whose checksum holds, or returns nil if
// there is none. The caller closes it.
func LoadSnapshot(dir string) (*Snapshot, error) {
	names, err := snapNames(dir)
	if err != nil {
		return nil, err
	}
	for i := len(names) - 1; i >= 0; i-- {
		s, err := openSnap(filepath.Join(dir, names[i]))
		if err == nil {
			return s, nil
		}
	}
	return nil, nil
}

var errBadSnap = errors.New("bad snapshot file")

func openSnap(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() < int64(len(snapFileMagic))+8 {
		f.Close()
		return nil, errBadSnap
	}
	body := fi.Size() - 4
	// First pass: verify the checksum without holding the file in memory.
	h := crc32.New(crcTable)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, body)); err != nil {
		f.Close()
		return nil, err
	}
	var sum [4]byte
	if _, err := f.ReadAt(sum[:], body); err != nil || binary.BigEndian.Uint32(sum[:]) != h.Sum32() {
		f.Close()
		return nil, errBadSnap
	}
	return parseSnap(f, body)
}

func parseSnap(f *os.File, body int64) (*Snapshot, error) {
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != string(snapFileMagic) {
		f.Close()
		return nil, errBadSnap
	}
	n := int64(binary.BigEndian.Uint32(hdr[4:]))
	if 8+n > body {
		f.Close()
		return nil, errBadSnap
	}
	m := make([]byte, n)
	if _, err := f.ReadAt(m, 8); err != nil {
		f.Close()
		return nil, err
	}
	s := &Snapshot{f: f}
	if err := s.Metadata.Unmarshal(m); err != nil {
		f.Close()
		return nil, errBadSnap
	}
	s.Data = bufio.NewReaderSize(io.NewSectionReader(f, 8+n, body-8-n), 1<<20)
	return s, nil
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
