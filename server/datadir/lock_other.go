//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package datadir

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errWouldBlock is never returned here.
var errWouldBlock = errors.New("would block")

// lockFile fails: the server runs where flock(2) exists; elsewhere a data directory cannot be
// guarded, and a server that silently ran unguarded could corrupt it.
func lockFile(*os.File) error {
	return fmt.Errorf("locking a data directory is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func unlockFile(*os.File) error { return nil }
