//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package datadir

import (
	"os"

	"golang.org/x/sys/unix"
)

// errWouldBlock is what a non-blocking flock returns when the file is locked.
const errWouldBlock = unix.EWOULDBLOCK

// lockFile takes an exclusive flock on f without waiting. flock locks belong to the open
// file description, so a second open of the same file conflicts even in the same process.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}
