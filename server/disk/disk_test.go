package disk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/metastore/metastore/core/backend"
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
