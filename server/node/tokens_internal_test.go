package node

import (
	"regexp"
	"testing"
	"time"

	"github.com/metastore/metastore/core/clock"
)

func TestSimpleTokens(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	ts := newSimpleTokens(clk, 2*time.Second)
	prefix := tokenPrefix()
	if !regexp.MustCompile(`^[A-Za-z]{16}$`).MatchString(prefix) {
		t.Fatalf("token prefix %q is not 16 letters", prefix)
	}
	a := ts.assign(prefix, 20, "alice")
	if a != prefix+".20" {
		t.Fatalf("token %q, want %q", a, prefix+".20")
	}
	b := ts.assign(tokenPrefix(), 21, "bob")

	// Each use extends a token's life by the TTL; idle for the TTL, it is gone.
	for range 3 {
		clk.Advance(1500 * time.Millisecond)
		if u, ok := ts.user(a); !ok || u != "alice" {
			t.Fatalf("a token in use expired (%q, %v)", u, ok)
		}
	}
	if _, ok := ts.user(b); ok {
		t.Fatal("an idle token outlived its TTL")
	}

	c := ts.assign(tokenPrefix(), 22, "alice")
	ts.dropUser("alice")
	for _, tok := range []string{a, c} {
		if _, ok := ts.user(tok); ok {
			t.Fatalf("token %s survived its user's password change", tok)
		}
	}
	d := ts.assign(tokenPrefix(), 23, "bob")
	ts.dropAll()
	if _, ok := ts.user(d); ok {
		t.Fatal("a token survived auth being disabled")
	}
}

func TestTokenIndex(t *testing.T) {
	for tok, want := range map[string]uint64{"abc.12": 12, "abc.0": 0} {
		if got, ok := tokenIndex(tok); !ok || got != want {
			t.Errorf("%q: %d %v", tok, got, ok)
		}
	}
	for _, tok := range []string{"", "bogus", "abc.", ".12", "abc.1.2", "abc.-1", "abc.x", "a.99999999999999999999999"} {
		if _, ok := tokenIndex(tok); ok {
			t.Errorf("%q was taken as a simple token", tok)
		}
	}
}
