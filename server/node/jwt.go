//go:build !js

package node

import (
	"crypto"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/metastore/metastore/core/clock"
)

// jwtTokens are etcd's JWT tokens: signed claims {username, revision, exp}. Any member with
// the key checks them, no member keeps them, and none can end one before it expires; a
// token names the auth revision of its login, so any change of the auth store since refuses
// its key requests with "revision of auth store is old" (clients log in again).
type jwtTokens struct {
	method jwt.SigningMethod
	sign   any // the private key or HMAC secret; nil: verify only
	verify any
	ttl    time.Duration
	clock  clock.Clock
}

func newJWTTokens(opts map[string]string, c clock.Clock) (*jwtTokens, error) {
	t := &jwtTokens{ttl: 5 * time.Minute, clock: c}
	for k := range opts {
		switch k {
		case "sign-method", "priv-key", "pub-key", "ttl":
		default:
			return nil, fmt.Errorf("%w: unknown option %q", ErrInvalidAuthOpts, k)
		}
	}
	if v := opts["ttl"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt ttl: %w", err)
		}
		t.ttl = d
	}
	if t.method = jwt.GetSigningMethod(opts["sign-method"]); t.method == nil {
		return nil, errInvalidMethod
	}
	var priv, pub []byte
	var err error
	if f := opts["priv-key"]; f != "" {
		if priv, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("auth: jwt private key: %w", err)
		}
	}
	if f := opts["pub-key"]; f != "" {
		if pub, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("auth: jwt public key: %w", err)
		}
	}
	if err := t.loadKeys(priv, pub); err != nil {
		return nil, err
	}
	return t, nil
}

// loadKeys parses the keys for the signing method: a PEM key pair (a public key alone
// verifies only; both must match), or for HMAC the private key file's bytes as the secret.
func (t *jwtTokens) loadKeys(priv, pub []byte) error {
	var parsePriv func([]byte) (crypto.Signer, error)
	var parsePub func([]byte) (crypto.PublicKey, error)
	switch t.method.(type) {
	case *jwt.SigningMethodHMAC:
		if len(priv) == 0 {
			return errMissingKey
		}
		t.sign, t.verify = priv, priv
		return nil
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		parsePriv = func(b []byte) (crypto.Signer, error) { return jwt.ParseRSAPrivateKeyFromPEM(b) }
		parsePub = func(b []byte) (crypto.PublicKey, error) { return jwt.ParseRSAPublicKeyFromPEM(b) }
	case *jwt.SigningMethodECDSA:
		parsePriv = func(b []byte) (crypto.Signer, error) { return jwt.ParseECPrivateKeyFromPEM(b) }
		parsePub = func(b []byte) (crypto.PublicKey, error) { return jwt.ParseECPublicKeyFromPEM(b) }
	case *jwt.SigningMethodEd25519:
		parsePriv = func(b []byte) (crypto.Signer, error) {
			k, err := jwt.ParseEdPrivateKeyFromPEM(b)
			if err != nil {
				return nil, err
			}
			return k.(crypto.Signer), nil
		}
		parsePub = jwt.ParseEdPublicKeyFromPEM
	default:
		return errInvalidMethod
	}
	var signer crypto.Signer
	var err error
	if len(priv) > 0 {
		if signer, err = parsePriv(priv); err != nil {
			return fmt.Errorf("auth: jwt private key: %w", err)
		}
		t.sign, t.verify = signer, signer.Public()
	}
	if len(pub) > 0 {
		pk, err := parsePub(pub)
		if err != nil {
			return fmt.Errorf("auth: jwt public key: %w", err)
		}
		if signer != nil {
			if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pk) {
				return errKeyMismatch
			}
		}
		t.verify = pk
	}
	if t.verify == nil {
		return errMissingKey
	}
	return nil
}

func (t *jwtTokens) prefix() string { return "" }

func (t *jwtTokens) assign(_ string, _, rev uint64, user string) (string, error) {
	if t.sign == nil {
		return "", ErrVerifyOnly
	}
	claims := jwt.MapClaims{"username": user, "revision": rev, "exp": t.clock.Now().Add(t.ttl).Unix()}
	return jwt.NewWithClaims(t.method, claims).SignedString(t.sign)
}

func (t *jwtTokens) waitIndex(string) (uint64, bool) { return 0, true }

func (t *jwtTokens) info(token string, _ uint64) (string, uint64, bool) {
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return t.verify, nil },
		jwt.WithValidMethods([]string{t.method.Alg()}), jwt.WithTimeFunc(t.clock.Now))
	if err != nil || !parsed.Valid {
		return "", 0, false
	}
	claims, ok := parsed.Claims.(jwt.MapClaims)
	if !ok {
		return "", 0, false
	}
	user, ok := claims["username"].(string)
	if !ok {
		return "", 0, false
	}
	rev, ok := claims["revision"].(float64)
	if !ok {
		return "", 0, false
	}
	return user, uint64(rev), true
}

// JWTs live until they expire: nothing to drop.
func (t *jwtTokens) dropUser(string) {}
func (t *jwtTokens) dropAll()        {}
