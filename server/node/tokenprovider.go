package node

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/metastore/metastore/core/clock"
)

// tokenProvider makes and checks the tokens logins get: simple tokens (the default) or JWT.
type tokenProvider interface {
	// prefix is what a login proposes for its token: random letters, or "" when the member
	// signs the token itself.
	prefix() string
	// assign makes the token of user's login, applied at index with the auth store at rev.
	assign(prefix string, index, rev uint64, user string) (string, error)
	// waitIndex is the log index the member must have applied before the token can be
	// looked up (0: none); false if the token cannot be one of ours.
	waitIndex(token string) (uint64, bool)
	// info returns a live token's user, and the auth revision it stands for (a simple
	// token: current, the store's now).
	info(token string, current uint64) (user string, rev uint64, ok bool)
	dropUser(user string)
	dropAll()
}

// Errors of the JWT options and keys, with etcd's texts.
var (
	ErrInvalidAuthOpts = errors.New("auth: invalid auth options")
	errInvalidMethod   = errors.New("auth: invalid auth signature method")
	errMissingKey      = errors.New("auth: missing key data")
	errKeyMismatch     = errors.New("auth: public and private keys don't match")
	// ErrVerifyOnly: a member given only a public key checks tokens but cannot make them.
	ErrVerifyOnly = errors.New("auth: token signing attempted with verify-only key")
)

// newTokenProvider reads etcd's --auth-token: "simple", or "jwt,sign-method=…,priv-key=…,
// pub-key=…,ttl=…" (ttl a Go duration, default 5m; ttlSimple is --auth-token-ttl).
func newTokenProvider(spec string, c clock.Clock, ttlSimple time.Duration) (tokenProvider, error) {
	kind, opts, err := tokenOptions(spec)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "", "simple":
		return newSimpleTokens(c, ttlSimple), nil
	case "jwt":
		return newJWTTokens(opts, c)
	}
	return nil, fmt.Errorf("auth: unknown token type %q", kind)
}

// tokenOptions splits "kind,k=v,k=v" (etcd's decomposeOpts: a repeated or malformed
// option is an error).
func tokenOptions(spec string) (string, map[string]string, error) {
	parts := strings.Split(spec, ",")
	opts := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: %q", ErrInvalidAuthOpts, p)
		}
		if _, dup := opts[k]; dup {
			return "", nil, fmt.Errorf("%w: %q given twice", ErrInvalidAuthOpts, k)
		}
		opts[k] = v
	}
	return parts[0], opts, nil
}
