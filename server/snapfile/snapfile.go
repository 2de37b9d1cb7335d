// Package snapfile is the file `etcdctl snapshot save` writes from a MetaStore member: the
// member's snapshot in etcd's framing, so that etcdctl's own checks pass. The framing is an
// 8-byte big-endian length, the core's snapshot (its own checksum inside), zero padding to a
// multiple of 512 bytes, and the SHA-256 of everything before it (etcd's rule: a file whose
// size is 32 past a multiple of 512 carries its hash).
//
// Open also takes what `etcdctl snapshot save` writes from etcd (its bbolt db, with the same
// SHA-256 rule) and an etcd member's db file, converted with etcdsnap.
package snapfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/etcdsnap"
)

// SpoolPattern names the files Spool makes (os.CreateTemp's pattern): a data dir's cleanup
// removes those a crash left.
const SpoolPattern = "snapshot-*.spool"

// Spool writes a saved snapshot's body into a new file in dir, the core snapshot coming
// from write: its length (8 bytes), the snapshot, zeros to a multiple of 512 bytes. The
// file is the state's size on disk, not in memory; the caller streams it, then its SHA-256
// as the last message, and closes and removes it.
func Spool(dir string, write func(io.Writer) error) (_ *os.File, size int64, err error) {
	f, err := os.CreateTemp(dir, SpoolPattern)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	var head [8]byte
	bw.Write(head[:])
	cw := &countingWriter{w: bw}
	if err := write(cw); err != nil {
		return nil, 0, err
	}
	size = 8 + cw.n
	if pad := size % 512; pad != 0 {
		bw.Write(make([]byte, 512-pad))
		size += 512 - pad
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, err
	}
	binary.BigEndian.PutUint64(head[:], uint64(cw.n))
	if _, err := f.WriteAt(head[:], 0); err != nil {
		return nil, 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	return f, size, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ErrNotMetaStore: the file is not a MetaStore snapshot (an etcd bbolt file, say).
var ErrNotMetaStore = errors.New("snapfile: not a MetaStore snapshot")

// Parse returns the core snapshot a saved file holds, after checking its hash (etcdutl's
// --skip-hash-check skips that, for a file with no hash). It takes MetaStore's files only;
// Load takes etcd's too.
func Parse(file []byte, skipHashCheck bool) ([]byte, error) {
	body, err := checkHash(file, skipHashCheck)
	if err != nil {
		return nil, err
	}
	return parseBody(body)
}

// checkHash returns the file without its SHA-256 (if it has one, by etcd's size rule),
// having checked it unless skipHashCheck, as etcdutl does for etcd's own files.
func checkHash(file []byte, skipHashCheck bool) ([]byte, error) {
	body := file
	switch {
	case len(file)%512 == sha256.Size:
		body = file[:len(file)-sha256.Size]
		if !skipHashCheck {
			if sum := sha256.Sum256(body); !bytes.Equal(sum[:], file[len(body):]) {
				return nil, fmt.Errorf("expected sha256 %x, got %x", file[len(body):], sum)
			}
		}
	case !skipHashCheck:
		return nil, errors.New("snapshot missing hash but --skip-hash-check=false")
	}
	return body, nil
}

// Source is a saved file, checked: a MetaStore member's core snapshot, or an etcd member's
// db (its bbolt db as `etcdctl snapshot save` writes it, or, with skipHashCheck, a db file
// copied from a data dir).
type Source struct {
	core, etcd []byte
	// Etcd describes the etcd db, once Store has converted it; nil for a MetaStore file.
	Etcd *etcdsnap.Info
}

// Open checks a saved file's hash (etcdutl's --skip-hash-check skips that, for a file with
// no hash) and finds which kind it is. The Source reads file, which must stay as it is.
func Open(file []byte, skipHashCheck bool) (*Source, error) {
	body, err := checkHash(file, skipHashCheck)
	if err != nil {
		return nil, err
	}
	snap, err := parseBody(body)
	switch {
	case err == nil:
		return &Source{core: snap}, nil
	case !errors.Is(err, ErrNotMetaStore):
		return nil, err
	case !etcdsnap.IsBolt(body):
		return nil, fmt.Errorf("%w, nor an etcd db file", err)
	}
	return &Source{etcd: body}, nil
}

// Store fills cfg.Backend, the empty backend of a new store, with the file's state and
// returns the store opened over it: a core snapshot is restored (core.Restore), an etcd db
// converted straight into the backend (etcdsnap.ConvertInto), so that neither the file's
// state nor a converted copy of it is ever whole in memory (the conversion runs on its own
// fixed clock, not cfg's: leases are stored by TTL, not deadline). On an error the backend
// holds part of the state: the caller discards it.
func (s *Source) Store(cfg core.Config) (*core.Store, error) {
	if s.etcd == nil {
		return core.Restore(bytes.NewReader(s.core), cfg)
	}
	st, info, err := etcdsnap.ConvertInto(s.etcd, cfg.Backend)
	if err != nil {
		return nil, err
	}
	s.Etcd = &info
	return st, nil
}

// parseBody returns the core snapshot in MetaStore's framing.
func parseBody(body []byte) ([]byte, error) {
	if len(body) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotMetaStore, len(body))
	}
	n := binary.BigEndian.Uint64(body)
	if n > uint64(len(body)-8) || !bytes.HasPrefix(body[8:], []byte("MSNAP")) {
		return nil, ErrNotMetaStore
	}
	for _, b := range body[8+n:] {
		if b != 0 {
			return nil, fmt.Errorf("%w: bytes after the snapshot", ErrNotMetaStore)
		}
	}
	return body[8 : 8+n], nil
}

// Status is what `metastore snapshot status` reports, as etcdutl's: the state's hash (the
// HashKV of its whole history, which etcd computes alike; etcdutl's hashes every bucket of
// the db file instead), its revision, how many keys it holds and the file's size.
type Status struct {
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKey  int    `json:"totalKey"`
	TotalSize int64  `json:"totalSize"`
	Version   string `json:"version"`
}

// ReadStatus restores a saved file (MetaStore's or etcd's, as Open) into b, an empty
// backend (a scratch database, or memory for a small file), and describes it. The version is
// the one given for a MetaStore file, the storage version an etcd file declares for etcd's.
func ReadStatus(file []byte, skipHashCheck bool, version string, b backend.Backend) (Status, error) {
	src, err := Open(file, skipHashCheck)
	if err != nil {
		return Status{}, err
	}
	s, err := src.Store(core.Config{Backend: b})
	if err != nil {
		return Status{}, err
	}
	defer s.Close()
	if src.Etcd != nil {
		version = src.Etcd.StorageVersion
	}
	h, err := s.HashKV(0)
	if err != nil {
		return Status{}, err
	}
	return Status{Hash: h.Hash, Revision: s.Rev(), TotalKey: s.MVCC().Keys(), TotalSize: int64(len(file)), Version: version}, nil
}
