package node

import (
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/clock"
)

// simpleTokens are etcd's simple tokens: 16 random letters and the log index of the login
// that made them ("lvzrQMPyKoreekQZ.20"). Every member makes the same token when it applies
// the login (the letters travel in the entry), so a token works on any member. They live in
// memory only: a restart logs everyone out, as in etcd. A token expires ttl after its last
// use; a password change, the user's deletion or auth being disabled ends it at once.
//
// Tokens are not replicated state: a member's token table may differ from another's by
// expiry times, and nothing applied depends on it.
type simpleTokens struct {
	clock clock.Clock
	ttl   time.Duration

	mu        sync.Mutex
	tokens    map[string]*simpleToken
	lastSweep time.Time
}

type simpleToken struct {
	user     string
	deadline time.Time
}

func newSimpleTokens(c clock.Clock, ttl time.Duration) *simpleTokens {
	return &simpleTokens{clock: c, ttl: ttl, tokens: map[string]*simpleToken{}}
}

const tokenLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func (t *simpleTokens) prefix() string { return tokenPrefix() }

func (t *simpleTokens) waitIndex(token string) (uint64, bool) { return tokenIndex(token) }

// tokenPrefix draws the random part of a token; the member that checked the password draws
// it and proposes it with the login.
func tokenPrefix() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = tokenLetters[randIntn(len(tokenLetters))]
	}
	return string(b)
}

func randIntn(n int) int {
	var b [1]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		// Rejection sampling keeps every letter equally likely.
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n
		}
	}
}

// tokenIndex is the log index a token names, if it is shaped as a simple token.
func tokenIndex(token string) (uint64, bool) {
	prefix, idx, ok := strings.Cut(token, ".")
	if !ok || prefix == "" || strings.Contains(idx, ".") {
		return 0, false
	}
	index, err := strconv.ParseUint(idx, 10, 64)
	return index, err == nil
}

// assign makes the token of a login applied at index.
func (t *simpleTokens) assign(prefix string, index, _ uint64, user string) (string, error) {
	if prefix == "" {
		// A login proposed by a member that signs its tokens (JWT): not ours to honour.
		return "", auth.ErrAuthFailed
	}
	token := prefix + "." + strconv.FormatUint(index, 10)
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	t.tokens[token] = &simpleToken{user: user, deadline: now.Add(t.ttl)}
	return token, nil
}

// sweep forgets expired tokens, at most once a second (etcd's ticker).
func (t *simpleTokens) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < time.Second {
		return
	}
	t.lastSweep = now
	for k, v := range t.tokens {
		if !now.Before(v.deadline) {
			delete(t.tokens, k)
		}
	}
}

// info returns a live token's user and extends its life; it stands for the user as the
// auth store is now.
func (t *simpleTokens) info(token string, current uint64) (string, uint64, bool) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.tokens[token]
	if v == nil {
		return "", 0, false
	}
	if !now.Before(v.deadline) {
		delete(t.tokens, token)
		return "", 0, false
	}
	v.deadline = now.Add(t.ttl)
	return v.user, current, true
}

// dropUser ends every token of user (a password change, the user's deletion).
func (t *simpleTokens) dropUser(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.tokens {
		if v.user == user {
			delete(t.tokens, k)
		}
	}
}

// dropAll ends every token (auth disabled).
func (t *simpleTokens) dropAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.tokens)
}
