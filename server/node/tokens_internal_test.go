package node

import (
	"os"
	"path/filepath"
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
	a, _ := ts.assign(prefix, 20, 5, "alice")
	if a != prefix+".20" {
		t.Fatalf("token %q, want %q", a, prefix+".20")
	}
	b, _ := ts.assign(tokenPrefix(), 21, 5, "bob")

	// Each use extends a token's life by the TTL; idle for the TTL, it is gone.
	for range 3 {
		clk.Advance(1500 * time.Millisecond)
		if u, rev, ok := ts.info(a, 9); !ok || u != "alice" || rev != 9 {
			t.Fatalf("a token in use expired or lost its user (%q, %d, %v)", u, rev, ok)
		}
	}
	if _, _, ok := ts.info(b, 9); ok {
		t.Fatal("an idle token outlived its TTL")
	}

	c, _ := ts.assign(tokenPrefix(), 22, 5, "alice")
	ts.dropUser("alice")
	for _, tok := range []string{a, c} {
		if _, _, ok := ts.info(tok, 9); ok {
			t.Fatalf("token %s survived its user's password change", tok)
		}
	}
	d, _ := ts.assign(tokenPrefix(), 23, 5, "bob")
	ts.dropAll()
	if _, _, ok := ts.info(d, 9); ok {
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

// FuzzTokens: whatever a client sends as a token is refused or names a user it was given
// to, never a panic; simple and JWT alike.
func FuzzTokens(f *testing.F) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	simple := newSimpleTokens(clk, time.Minute)
	issued, _ := simple.assign("abcdefghijklmnop", 12, 1, "alice")
	secret := filepath.Join(f.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("fuzz secret"), 0o600); err != nil {
		f.Fatal(err)
	}
	jwts, err := newTokenProvider("jwt,sign-method=HS256,priv-key="+secret, clk, time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	signed, _ := jwts.assign("", 1, 3, "bob")
	for _, s := range []string{issued, signed, "abc.1", "a.b.c", "", ".", "eyJ.eyJ.x", signed[:len(signed)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if _, ok := simple.waitIndex(tok); !ok && tok == issued {
			t.Fatal("the issued token is not shaped as one")
		}
		if user, _, ok := simple.info(tok, 1); ok && (tok != issued || user != "alice") {
			t.Fatalf("%q passed as %q", tok, user)
		}
		if user, _, ok := jwts.info(tok, 1); ok && user != "bob" {
			t.Fatalf("%q passed as %q", tok, user)
		}
	})
}
