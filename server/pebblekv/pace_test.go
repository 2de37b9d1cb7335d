package pebblekv

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestPacerRests: a compaction that has run a work slice rests one rest slice at its next
// report, unless the LSM is behind; and a grant's Done frees its place.
func TestPacerRests(t *testing.T) {
	urgent := false
	p := newPacer(time.Millisecond, 7*time.Millisecond, func() bool { return urgent })
	var rested []time.Duration
	p.sleep = func(d time.Duration) { rested = append(rested, d) }
	g := &pacedGrant{p: p}
	g.Started()
	g.CumulativeStats(pebbleStats())
	if len(rested) != 0 {
		t.Fatalf("rested before a work slice passed: %v", rested)
	}
	g.since = time.Now().Add(-2 * time.Millisecond)
	g.CumulativeStats(pebbleStats())
	if len(rested) != 1 || rested[0] != 7*time.Millisecond {
		t.Fatalf("after a work slice: rested %v, want one rest of 7ms", rested)
	}
	urgent = true
	g.since = time.Now().Add(-2 * time.Millisecond)
	g.CumulativeStats(pebbleStats())
	if len(rested) != 1 {
		t.Fatalf("rested while the LSM is behind: %v", rested)
	}
}

// TestPacedDatabaseCompacts: with the pacer as its scheduler, pebble still compacts (a
// manual compaction completes, and Close unregisters it).
func TestPacedDatabaseCompacts(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		b := d.db.NewBatch()
		if err := b.Set([]byte{'x', byte(i >> 8), byte(i)}, make([]byte, 512), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func pebbleStats() pebble.CompactionGrantHandleStats { return pebble.CompactionGrantHandleStats{} }
