//go:build unix

package snapfile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Map maps the file at path read-only, for Open, Parse and ReadStatus: the file is read
// through the page cache, not copied into the heap (a multi-GiB etcd db would need that much
// memory again), as bbolt reads its own file. A file that is not a regular one (a pipe), or
// that its file system cannot map, is read whole instead. The file must not change while it
// is mapped: reading a page that a truncation took away faults (SIGBUS), which Guard turns
// into ErrChanged for the goroutine it runs on (etcdutl, reading its bbolt file mapped, dies
// of it). release unmaps it.
func Map(path string) (data []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return readAll(f) // a pipe, a device: read as before
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil // an empty mapping is refused by mmap
	}
	if int64(int(fi.Size())) != fi.Size() {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, fi.Size())
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL) {
		return readAll(f) // a file system that cannot map files
	}
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return data, func() { unix.Munmap(data) }, nil
}

func readAll(f *os.File) ([]byte, func(), error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return data, func() {}, nil
}
