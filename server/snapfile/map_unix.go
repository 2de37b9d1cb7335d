//go:build unix

package snapfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Map maps the file at path read-only, for Open, Parse and ReadStatus: the file is read
// through the page cache, not copied into the heap (a multi-GiB etcd db would need that much
// memory again), as bbolt reads its own file. The file must not change while it is mapped.
// release unmaps it.
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
	if fi.Size() == 0 {
		return nil, func() {}, nil // an empty mapping is refused by mmap
	}
	if int64(int(fi.Size())) != fi.Size() {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, fi.Size())
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return data, func() { unix.Munmap(data) }, nil
}
