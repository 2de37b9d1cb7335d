//go:build !js

package node

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/metastore/metastore/core/clock"
)

// writeKeyPair writes k and its public key as PEM files.
func writeKeyPair(t *testing.T, k crypto.Signer) (priv, pub string) {
	t.Helper()
	privDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "key"), filepath.Join(dir, "key.pub")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func TestJWTTokens(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("a shared secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	for _, c := range []struct {
		method string
		key    crypto.Signer
	}{{"RS256", rsaKey}, {"PS384", rsaKey}, {"ES256", ecKey}, {"EdDSA", edKey}, {"HS256", nil}} {
		spec := "jwt,sign-method=" + c.method + ",ttl=1m,priv-key=" + secret
		if c.key != nil {
			priv, pub := writeKeyPair(t, c.key)
			spec = "jwt,sign-method=" + c.method + ",ttl=1m,priv-key=" + priv + ",pub-key=" + pub
		}
		p, err := newTokenProvider(spec, clk, time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		tok, err := p.assign(p.prefix(), 10, 7, "alice")
		if err != nil {
			t.Fatalf("%s: assign: %v", c.method, err)
		}
		if user, rev, ok := p.info(tok, 99); !ok || user != "alice" || rev != 7 {
			t.Fatalf("%s: info = %q %d %v, want alice at the login's revision 7", c.method, user, rev, ok)
		}
		if _, _, ok := p.info(tok[:len(tok)-2]+"xx", 99); ok {
			t.Fatalf("%s: a token with a broken signature passed", c.method)
		}
		clk.Advance(time.Minute)
		if _, _, ok := p.info(tok, 99); ok {
			t.Fatalf("%s: an expired token passed", c.method)
		}
	}

	// A token of another method (the same secret bytes as an HMAC key) is refused.
	priv, pub := writeKeyPair(t, rsaKey)
	rs, err := newTokenProvider("jwt,sign-method=RS256,priv-key="+priv+",pub-key="+pub, clk, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := newTokenProvider("jwt,sign-method=HS256,priv-key="+pub, clk, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := hs.assign("", 1, 1, "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := rs.info(forged, 1); ok {
		t.Fatal("an HS256 token signed with the RSA public key passed an RS256 member")
	}

	// A public key alone verifies but cannot sign.
	vo, err := newTokenProvider("jwt,sign-method=RS256,pub-key="+pub, clk, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := rs.assign("", 1, 3, "bob")
	if user, _, ok := vo.info(tok, 3); !ok || user != "bob" {
		t.Fatal("a verify-only member refused a good token")
	}
	if _, err := vo.assign("", 1, 3, "bob"); !errors.Is(err, ErrVerifyOnly) {
		t.Fatalf("verify-only assign: %v", err)
	}

	otherPriv, _ := writeKeyPair(t, ecKey)
	for spec, want := range map[string]error{
		"jwt,sign-method=RS256,priv-key=" + priv + ",priv-key=" + priv: ErrInvalidAuthOpts,
		"jwt,sign-method=RS256,priv-key":                               ErrInvalidAuthOpts,
		"jwt,sign-method=XX999,priv-key=" + priv:                       errInvalidMethod,
		"jwt,sign-method=RS256":                                        errMissingKey,
		"jwt,sign-method=HS256":                                        errMissingKey,
	} {
		if _, err := newTokenProvider(spec, clk, time.Minute); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", spec, err, want)
		}
	}
	_, ecPub := writeKeyPair(t, ecKey)
	if _, err := newTokenProvider("jwt,sign-method=ES256,priv-key="+otherPriv+",pub-key="+ecPub, clk, time.Minute); err != nil {
		t.Fatalf("matching EC keys refused: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, otherPub := writeKeyPair(t, other)
	if _, err := newTokenProvider("jwt,sign-method=ES256,priv-key="+otherPriv+",pub-key="+otherPub, clk, time.Minute); !errors.Is(err, errKeyMismatch) {
		t.Fatalf("mismatched keys: %v", err)
	}
	if _, err := newTokenProvider("bogus", clk, time.Minute); err == nil {
		t.Fatal("an unknown token type was taken")
	}
}
