// Package disk is a member's storage in a data dir (node.Storage): the Raft log
// (server/wal) in member/wal and the database (server/pebblekv) in member/db, or in the
// directory a snapshot from the leader was installed into, named by member/db.current. The
// data dir is locked (server/datadir) while the storage is held.
package disk

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/datadir"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pebblekv"
	"github.com/metastore/metastore/server/snapfile"
	"github.com/metastore/metastore/server/wal"
)

// Options tune a Storage.
type Options struct {
	// Log is told of slow one-time work when the database opens.
	Log *slog.Logger
	// ObserveFsync, if set, is told how long each fsync of the log took.
	ObserveFsync func(time.Duration)
	// ObserveCommit, if set, is told how long each commit and flush of the database took.
	ObserveCommit func(time.Duration)
}

// Storage is a data dir.
type Storage struct {
	dir  string
	o    Options
	lock *datadir.Guard

	mu   sync.Mutex
	dirs map[*pebblekv.DB]string // the directory of each database made by NewDB
}

var _ node.Storage = (*Storage)(nil)

// Open locks the data dir dir (creating it) and returns it as a member's storage. Nothing in
// it is touched before it is locked.
func Open(dir string, o Options) (*Storage, error) {
	if dir == "" {
		return nil, errors.New("disk: a data dir is required")
	}
	lock, err := datadir.Lock(dir)
	if err != nil {
		return nil, err
	}
	return &Storage{dir: dir, o: o, lock: lock, dirs: map[*pebblekv.DB]string{}}, nil
}

func (s *Storage) String() string { return "data dir " + s.dir }

// Release unlocks the data dir.
func (s *Storage) Release() { s.lock.Release() }

func (s *Storage) walDir() string { return filepath.Join(s.dir, "member", "wal") }

// currentFile names the database directory in use, once a snapshot has replaced the first
// one ("member/db").
func (s *Storage) currentFile() string { return filepath.Join(s.dir, "member", "db.current") }

// dbDir is the database directory in use.
func (s *Storage) dbDir() string {
	if b, err := os.ReadFile(s.currentFile()); err == nil && len(b) > 0 {
		return filepath.Join(s.dir, "member", filepath.Base(string(b)))
	}
	return filepath.Join(s.dir, "member", "db")
}

// OpenLog opens the Raft log.
func (s *Storage) OpenLog() (node.Log, node.LogState, error) {
	w, st, err := wal.Open(s.walDir())
	if err != nil {
		return nil, node.LogState{}, fmt.Errorf("open log: %w", err)
	}
	w.ObserveSync = s.o.ObserveFsync
	return w, node.LogState(st), nil
}

// OpenDB opens the database in use, after removing the database directories a crash left
// behind (a snapshot being installed, or one replaced).
func (s *Storage) OpenDB() (node.DB, error) {
	// Snapshots spooled for the Snapshot RPC when the process died.
	spooled, _ := filepath.Glob(filepath.Join(s.dir, "member", snapfile.SpoolPattern))
	for _, m := range spooled {
		os.Remove(m)
	}
	cur := s.dbDir()
	ms, _ := filepath.Glob(filepath.Join(s.dir, "member", "db*"))
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() && m != cur {
			os.RemoveAll(m)
		}
	}
	return s.open(cur)
}

func (s *Storage) open(dir string) (*pebblekv.DB, error) {
	db, err := pebblekv.OpenWith(dir, pebblekv.Options{Log: s.o.Log})
	if err != nil {
		return nil, err
	}
	db.ObserveCommit = s.o.ObserveCommit
	return db, nil
}

// NewDB makes a database in a directory never used before, so that installing the same
// snapshot again (after a crash part-way) never touches the directory in use.
func (s *Storage) NewDB(index uint64) (node.DB, error) {
	dir := filepath.Join(s.dir, "member", fmt.Sprintf("db.%016x.%x", index, time.Now().UnixNano()))
	os.RemoveAll(dir)
	db, err := s.open(dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.dirs[db] = dir
	s.mu.Unlock()
	return db, nil
}

// DropDB closes a database NewDB made that will not be used, and removes its directory.
func (s *Storage) DropDB(db node.DB) {
	db.Close()
	pdb, _ := db.(*pebblekv.DB)
	s.mu.Lock()
	dir, ok := s.dirs[pdb]
	delete(s.dirs, pdb)
	s.mu.Unlock()
	if ok {
		os.RemoveAll(dir)
	}
}

// UseDB points member/db.current at db's directory (written, synced and renamed into place);
// discard removes the directory in use before.
func (s *Storage) UseDB(db node.DB) (func(), error) {
	pdb, _ := db.(*pebblekv.DB)
	s.mu.Lock()
	dir, ok := s.dirs[pdb]
	delete(s.dirs, pdb)
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("disk: UseDB of a database NewDB did not make")
	}
	old := s.dbDir()
	tmp := s.currentFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(filepath.Base(dir)), 0o600); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, s.currentFile()); err != nil {
		return nil, err
	}
	if err := syncFile(filepath.Dir(tmp)); err != nil {
		return nil, err
	}
	return func() { os.RemoveAll(old) }, nil
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// restorePrefix names the directory a restore builds the member in, inside the data dir.
const restorePrefix = ".restore-"

// Restore makes the data dir cfg.DataDir and fills it with the state open gives (see
// node.Restore). The data dir must not exist or be empty. The member is built in a
// directory inside it and renamed to member/ once complete and synced, so that a failed
// or killed restore never leaves a data dir holding part of the state (a killed one leaves
// no member/: a member started there starts empty; restoring again clears the leftover).
// Built inside, not beside, the data dir: an empty mount point or a symbolic link to a
// directory is a data dir as good as any.
func Restore(cfg node.RestoreConfig, open func(core.Config) (*core.Store, error)) (err error) {
	if err := cfg.Check(); err != nil {
		return err
	}
	entries, rerr := os.ReadDir(cfg.DataDir)
	existed := rerr == nil
	if existed && !restorable(entries) || rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return fmt.Errorf("data-dir %q not empty or could not be read", cfg.DataDir)
	}
	lock, err := datadir.Lock(cfg.DataDir)
	if err != nil {
		return err
	}
	defer func() {
		// A panic fails the restore too (snapfile.Guard turns a fault on a file cut short
		// under its mapping into one, and recovers it above).
		r := recover()
		lock.Release()
		switch {
		case err == nil && r == nil:
		case existed:
			os.Remove(filepath.Join(cfg.DataDir, datadir.LockFile)) // empty again, as it was
		default:
			os.RemoveAll(cfg.DataDir)
		}
		if r != nil {
			panic(r)
		}
	}()
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), restorePrefix) { // a killed restore's
			if err := os.RemoveAll(filepath.Join(cfg.DataDir, e.Name())); err != nil {
				return err
			}
		}
	}
	tmp, err := os.MkdirTemp(cfg.DataDir, restorePrefix+"*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // left with the lock file of the storage built in it
	if err := fill(tmp, cfg, open); err != nil {
		return err
	}
	// The database synced its own directory; member/ and the rename are synced here.
	if err := syncFile(filepath.Join(tmp, "member")); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "member"), filepath.Join(cfg.DataDir, "member")); err != nil {
		return err
	}
	return syncFile(cfg.DataDir)
}

// restorable reports whether a data dir's entries leave it empty for a restore: nothing but
// the lock file and what a killed restore left.
func restorable(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.Name() != datadir.LockFile && !strings.HasPrefix(e.Name(), restorePrefix) {
			return false
		}
	}
	return true
}

// fill makes a data dir at dir holding the state open gives.
func fill(dir string, cfg node.RestoreConfig, open func(core.Config) (*core.Store, error)) error {
	s, err := Open(dir, Options{})
	if err != nil {
		return err
	}
	defer s.Release()
	db, err := s.OpenDB()
	if err != nil {
		return err
	}
	defer db.Close()
	return node.Restore(db, cfg, open)
}
