package pebblekv

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// TestFormatRewriteLogged: a database of an older format is rewritten with a line in the
// log; a new one (every new member's, every snapshot install's) just gets the mark.
func TestFormatRewriteLogged(t *testing.T) {
	dir := t.TempDir()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	d, err := OpenWith(dir, Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logged.String(), "rewriting") {
		t.Fatalf("a new database was announced as rewritten: %s", logged.String())
	}
	if err := d.Commit(&backend.Batch{Puts: []backend.Record{rec(2, 0, "k", "v")}}); err != nil {
		t.Fatal(err)
	}
	// Take the mark away: the database is now of an older format.
	if err := d.db.Delete(formatKey, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := d.db.Flush(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = OpenWith(dir, Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(logged.String(), "rewriting a database of an older format") || !strings.Contains(logged.String(), "records=1") {
		t.Fatalf("an older database's rewrite not logged: %s", logged.String())
	}
	if _, ok := d.Get(kv.Revision{Main: 2}); !ok {
		t.Fatal("the record is gone after the rewrite")
	}
}
