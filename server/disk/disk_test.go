package disk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/node"
)

// TestInstalledDatabaseSurvivesReopen: a database made by NewDB and switched to by UseDB is
// the one the next Open finds (the switch is on disk); discard removes the one before; a
// database NewDB made but a crash left unused is removed when the storage opens again; a
// second Open of a held data dir fails.
func TestInstalledDatabaseSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a second Open of a held data dir succeeded")
	}
	first, err := s.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	put := func(db interface{ Commit(*backend.Batch) error }, k string) {
		t.Helper()
		if err := db.Commit(&backend.Batch{Meta: []backend.MetaEntry{{Key: k, Value: []byte{1}}}}); err != nil {
			t.Fatal(err)
		}
	}
	put(first, "first")
	next, err := s.NewDB(7)
	if err != nil {
		t.Fatal(err)
	}
	put(next, "installed")
	if err := next.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseDB(first); err == nil {
		t.Fatal("UseDB took a database NewDB did not make")
	}
	discard, err := s.UseDB(next)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	discard()
	if _, err := os.Stat(filepath.Join(dir, "member", "db")); !os.IsNotExist(err) {
		t.Fatalf("the replaced database is still there (%v)", err)
	}
	// A snapshot being installed when the process died.
	stale, err := s.NewDB(9)
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()
	next.Close()
	s.Release()

	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	db, err := s.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok := db.Meta("installed"); !ok {
		t.Fatal("reopened on another database than the installed one")
	}
	ms, _ := filepath.Glob(filepath.Join(dir, "member", "db.*"))
	var dirs []string
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			dirs = append(dirs, filepath.Base(m))
		}
	}
	if len(dirs) != 1 {
		t.Fatalf("database directories after reopening: %v, want only the installed one", dirs)
	}
}

// TestRestoreBuildsInsideAndRenames: a restore builds the member in a directory inside the
// data dir and renames it to member/ when complete, so the data dir never holds part of the
// state; into a missing dir, an empty one, one a killed restore left, a symbolic link to an
// empty dir and "." it succeeds; a non-empty one is refused; a failed restore, or one that
// panics, leaves nothing behind (a pre-existing empty dir stays as it was).
func TestRestoreBuildsInsideAndRenames(t *testing.T) {
	cfg := func(dir string) node.RestoreConfig {
		return node.RestoreConfig{DataDir: dir, Name: "m", PeerURLs: []string{"http://127.0.0.1:2380"}}
	}
	put := func(t *testing.T, dir string) func(core.Config) (*core.Store, error) {
		return func(c core.Config) (*core.Store, error) {
			if _, err := os.Stat(filepath.Join(dir, "member")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s holds member/ while it is being filled (%v)", dir, err)
			}
			s, err := core.New(c)
			if err != nil {
				return nil, err
			}
			if _, err := s.Put(&core.PutRequest{Key: []byte("k"), Value: []byte("v")}); err != nil {
				s.Close()
				return nil, err
			}
			return s, nil
		}
	}
	entries := func(dir string) []string {
		es, _ := os.ReadDir(dir)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	restored := func(t *testing.T, dir string) {
		t.Helper()
		if got := entries(dir); !slices.Equal(got, []string{".metastore.lock", "member"}) {
			t.Fatalf("%s holds %v", dir, got)
		}
		s, err := Open(dir, Options{}) // it opens, unlocked
		if err != nil {
			t.Fatal(err)
		}
		s.Release()
	}

	parent := t.TempDir()
	missing := filepath.Join(parent, "missing", "m.etcd")
	empty := filepath.Join(parent, "empty.etcd")
	killed := filepath.Join(parent, "killed.etcd")
	target := filepath.Join(parent, "target")
	link := filepath.Join(parent, "link.etcd")
	for _, d := range []string{empty, filepath.Join(killed, restorePrefix+"123", "member"), target} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{missing, empty, killed, link} {
		if err := Restore(cfg(dir), put(t, dir)); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		restored(t, dir)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symbolic link was replaced (%v)", err)
	}
	if err := Restore(cfg(empty), put(t, empty)); err == nil {
		t.Fatal("restored into a data dir that holds one")
	}
	dot := filepath.Join(parent, "dot")
	if err := os.Mkdir(dot, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dot)
	if err := Restore(cfg("."), put(t, ".")); err != nil {
		t.Fatalf(`".": %v`, err)
	}
	restored(t, dot)

	failing := filepath.Join(parent, "failing.etcd")
	if err := os.Mkdir(failing, 0o700); err != nil {
		t.Fatal(err)
	}
	before := entries(parent)
	refused := errors.New("refused half way")
	fail := func(c core.Config) (*core.Store, error) {
		if err := c.Backend.Commit(&backend.Batch{Meta: []backend.MetaEntry{{Key: "x", Value: []byte{1}}}}); err != nil {
			return nil, err
		}
		return nil, refused
	}
	if err := Restore(cfg(failing), fail); !errors.Is(err, refused) {
		t.Fatalf("a failed restore: %v", err)
	}
	if err := Restore(cfg(filepath.Join(parent, "new.etcd")), fail); !errors.Is(err, refused) {
		t.Fatalf("a failed restore: %v", err)
	}
	// A panic half way (what snapfile.Guard makes of a snapshot file cut short under its
	// mapping) fails it alike, and goes on up.
	panicking := func(c core.Config) (*core.Store, error) {
		if _, err := fail(c); err == nil {
			t.Fatal("fail did not fail")
		}
		panic("the file changed")
	}
	for _, dir := range []string{failing, filepath.Join(parent, "new.etcd")} {
		func() {
			defer func() {
				if r := recover(); r != "the file changed" {
					t.Fatalf("%s: recovered %v", dir, r)
				}
			}()
			Restore(cfg(dir), panicking)
		}()
	}
	if after := entries(parent); !slices.Equal(after, before) || len(entries(failing)) != 0 {
		t.Fatalf("a failed restore left %v in the parent (before: %v), %v in the data dir", after, before, entries(failing))
	}
}
