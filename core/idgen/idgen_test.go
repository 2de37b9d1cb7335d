package idgen

import (
	"sync"
	"testing"
	"time"
)

func TestNextUniquePositive(t *testing.T) {
	tests := []struct {
		member uint16
		now    time.Time
	}{
		{0, time.Unix(0, 0)},
		{0, time.Unix(1_700_000_000, 0)},
		{1, time.Unix(1_700_000_000, 123_000_000)},
		{0x7fff, time.Unix(1_700_000_000, 0)},
		{0xffff, time.Unix(1_700_000_000, 0)}, // top bit of the prefix is the sign bit: masked
		{42, time.UnixMilli(1<<41 + 5)},       // timestamp wider than 40 bits: truncated
	}
	for _, tt := range tests {
		g := New(tt.member, tt.now)
		seen := map[int64]bool{}
		for i := 0; i < 10000; i++ {
			id := g.Next()
			if id <= 0 {
				t.Fatalf("member %#x: id %d is not positive", tt.member, id)
			}
			if seen[id] {
				t.Fatalf("member %#x: id %d repeated", tt.member, id)
			}
			seen[id] = true
		}
	}
}

func TestNextMemberPrefix(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, m := range []uint16{0, 1, 2, 0x1234, 0x7fff} {
		id := New(m, now).Next()
		if got := uint16(uint64(id) >> suffixLen); got != m {
			t.Errorf("member %#x: id %#x has prefix %#x", m, id, got)
		}
	}
	// Different members never collide, even from the same instant.
	a, b := New(1, now), New(2, now)
	ids := map[int64]bool{}
	for i := 0; i < 1000; i++ {
		ids[a.Next()] = true
		ids[b.Next()] = true
	}
	if len(ids) != 2000 {
		t.Fatalf("members 1 and 2 produced %d distinct ids out of 2000", len(ids))
	}
}

func TestNextRestartDoesNotRepeat(t *testing.T) {
	// A generator started a millisecond later (a restart) starts past the 256 IDs per
	// millisecond the earlier one could hand out in that millisecond.
	t0 := time.Unix(1_700_000_000, 0)
	first := New(7, t0)
	ids := map[int64]bool{}
	for i := 0; i < 255; i++ {
		ids[first.Next()] = true
	}
	second := New(7, t0.Add(time.Millisecond))
	for i := 0; i < 1000; i++ {
		if id := second.Next(); ids[id] {
			t.Fatalf("restarted generator repeated id %#x", id)
		}
	}
}

func TestNextSkipsZero(t *testing.T) {
	g := New(0, time.Unix(0, 0))
	// Make the counter wrap: the next suffix is 0, which with prefix 0 is ID 0.
	g.suffix.Store(1<<suffixLen - 1)
	if id := g.Next(); id != 1 {
		t.Fatalf("after wrap: id = %d, want 1 (0 skipped)", id)
	}
}

func TestNextConcurrent(t *testing.T) {
	g := New(3, time.Unix(1_700_000_000, 0))
	const workers, per = 4, 2000
	out := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				out[w] = append(out[w], g.Next())
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, ids := range out {
		for _, id := range ids {
			if id <= 0 || seen[id] {
				t.Fatalf("id %d not positive or repeated", id)
			}
			seen[id] = true
		}
	}
}
