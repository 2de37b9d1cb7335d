// Package datadir guards a member's data directory against a second user: a server takes
// Lock on its data directory before it opens anything in it and keeps it until it has closed
// everything, so that two processes (or two servers in one process) never write the same
// Raft log and backend, which would corrupt both.
//
// The lock is an advisory, exclusive flock(2) on the file LockFile (".metastore.lock") at
// the top of the data directory, taken without waiting: if another process holds it, Lock
// fails at once. The kernel drops the lock when the process exits, however it exits, so a
// crash never leaves a stale lock behind. The file is never removed (removing it would let a
// second process lock a new file while the first still holds the old one); it holds the
// holder's process ID, which only serves the error message.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the name of the lock file inside a data directory.
const LockFile = ".metastore.lock"

// ErrInUse is matched (errors.Is) by the error Lock returns when another process, or another
// Lock in this process, holds the data directory.
var ErrInUse = errors.New("in use")

// Guard is a held data directory lock.
type Guard struct {
	dir string
	f   *os.File
}

// Lock creates dir if it is missing and locks it. It does not wait: if the directory is
// locked already, it returns an error matching ErrInUse that names the directory.
func Lock(dir string) (*Guard, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: cannot create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datadir: cannot open lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("datadir: cannot access data directory %s: %w by %s; lock file %s: %w",
				dir, ErrInUse, holder(path), path, err)
		}
		return nil, fmt.Errorf("datadir: cannot lock data directory %s (lock file %s): %w", dir, path, err)
	}
	// Record who holds it, for the message another process gets (best effort).
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Guard{dir: dir, f: f}, nil
}

// holder names the process that holds the lock file at path, as far as the file says.
func holder(path string) string {
	b, _ := os.ReadFile(path)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	switch {
	case err != nil || pid <= 0:
		return "another process"
	case pid == os.Getpid():
		return "this process (it is locked twice)"
	default:
		return fmt.Sprintf("another process (pid %d)", pid)
	}
}

// Dir is the locked directory.
func (l *Guard) Dir() string { return l.dir }

// Release unlocks the directory. The lock file stays. Releasing twice is an error.
func (l *Guard) Release() error {
	if l.f == nil {
		return fmt.Errorf("datadir: %s: lock already released", l.dir)
	}
	f := l.f
	l.f = nil
	err := unlockFile(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("datadir: release %s: %w", l.dir, err)
	}
	return nil
}
