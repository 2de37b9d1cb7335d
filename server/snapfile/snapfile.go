// Package snapfile is the file `etcdctl snapshot save` writes from a MetaStore member: the
// member's snapshot in etcd's framing, so that etcdctl's own checks pass. The framing is an
// 8-byte big-endian length, the core's snapshot (its own checksum inside), zero padding to a
// multiple of 512 bytes, and the SHA-256 of everything before it (etcd's rule: a file whose
// size is 32 past a multiple of 512 carries its hash).
package snapfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
)

// Frame wraps a core snapshot: the body to stream, then its SHA-256 as the last message.
func Frame(core []byte) (body []byte, sum [sha256.Size]byte) {
	body = binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(core)+512), uint64(len(core)))
	body = append(body, core...)
	if pad := len(body) % 512; pad != 0 {
		body = append(body, make([]byte, 512-pad)...)
	}
	return body, sha256.Sum256(body)
}

// ErrNotMetaStore: the file is not a MetaStore snapshot (an etcd bbolt file, say).
var ErrNotMetaStore = errors.New("snapfile: not a MetaStore snapshot")

// Parse returns the core snapshot a saved file holds, after checking its hash (etcdutl's
// --skip-hash-check skips that, for a file with no hash).
func Parse(file []byte, skipHashCheck bool) ([]byte, error) {
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
// HashKV of its whole history; MetaStore's numbers, not etcd's), its revision, how many keys
// it holds and the file's size.
type Status struct {
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKey  int    `json:"totalKey"`
	TotalSize int64  `json:"totalSize"`
	Version   string `json:"version"`
}

// ReadStatus restores a saved file in memory and describes it.
func ReadStatus(file []byte, skipHashCheck bool, version string) (Status, error) {
	snap, err := Parse(file, skipHashCheck)
	if err != nil {
		return Status{}, err
	}
	s, err := core.Restore(bytes.NewReader(snap), core.Config{Backend: backend.NewMemory()})
	if err != nil {
		return Status{}, err
	}
	defer s.Close()
	h, err := s.HashKV(0)
	if err != nil {
		return Status{}, err
	}
	return Status{Hash: h.Hash, Revision: s.Rev(), TotalKey: s.MVCC().Keys(), TotalSize: int64(len(file)), Version: version}, nil
}
