//go:build !unix

package snapfile

import "os"

// Map reads the file at path whole (no mmap here).
func Map(path string) (data []byte, release func(), err error) {
	data, err = os.ReadFile(path)
	return data, func() {}, err
}
