package clock

import (
	"testing"
	"time"
)

func TestPage(t *testing.T) {
	wall := time.Unix(1_700_000_000, 0)
	p := &Page{now: func() time.Time { return wall }}
	step := func(d time.Duration) { wall = wall.Add(d) }

	for _, tc := range []struct {
		name   string
		do     func()
		want   time.Time // the page's reading afterwards
		paused bool
	}{
		{"runs with the wall clock", func() { step(time.Second) }, time.Unix(1_700_000_001, 0), false},
		{"advance jumps ahead", func() { p.Advance(10 * time.Second) }, time.Unix(1_700_000_011, 0), false},
		{"advance ignores negative", func() { p.Advance(-time.Hour) }, time.Unix(1_700_000_011, 0), false},
		{"pause stops it", func() { p.Pause(); step(5 * time.Second) }, time.Unix(1_700_000_011, 0), true},
		{"pause twice is pause", func() { p.Pause(); step(time.Second) }, time.Unix(1_700_000_011, 0), true},
		{"advance while paused", func() { p.Advance(2 * time.Second) }, time.Unix(1_700_000_013, 0), true},
		{"resume runs on from the reading", func() { p.Resume(); step(time.Second) }, time.Unix(1_700_000_014, 0), false},
		{"resume twice is resume", func() { p.Resume(); step(time.Second) }, time.Unix(1_700_000_015, 0), false},
	} {
		tc.do()
		if got := p.Now(); !got.Equal(tc.want) {
			t.Fatalf("%s: now %v, want %v", tc.name, got, tc.want)
		}
		if paused, ahead := p.State(); paused != tc.paused || ahead != tc.want.Sub(wall) {
			t.Fatalf("%s: state (%v, %v), want (%v, %v)", tc.name, paused, ahead, tc.paused, tc.want.Sub(wall))
		}
	}
}
