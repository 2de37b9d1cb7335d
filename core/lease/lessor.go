// Package lease keeps etcd's leases: grant, renew, time-to-live, and which keys each lease
// holds. It never deletes keys itself: Expired tells the caller which leases are due, and the
// caller revokes them through its own write path (under Raft, only the leader proposes
// revocations and every replica applies them), deleting the keys from Keys in one revision.
package lease

import (
	"container/heap"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/metastore/metastore/core/clock"
)

var (
	ErrLeaseNotFound    = errors.New("lease not found")
	ErrLeaseExists      = errors.New("lease already exists")
	ErrLeaseTTLTooLarge = errors.New("too large lease TTL")
)

// MaxLeaseTTL is the largest TTL a lease may be granted, in seconds (etcd's limit).
const MaxLeaseTTL = 9_000_000_000

// Config configures a Lessor. The zero value works.
type Config struct {
	// Clock decides expiry; default the wall clock.
	Clock clock.Clock
	// MinTTL is the smallest TTL granted, in seconds; shorter requests are raised to it.
	// Default 2, etcd's ceil(1.5 × 1s election timeout).
	MinTTL int64
	// RetryAfter is how long an expired lease that was reported but not yet revoked waits
	// before Expired reports it again; default 3s, as etcd.
	RetryAfter time.Duration
}

// Lessor tracks leases. It is safe for concurrent use.
type Lessor struct {
	clock      clock.Clock
	minTTL     int64
	retryAfter time.Duration

	mu     sync.Mutex // guards leases and queue
	leases map[int64]*lease
	queue  expiryQueue
}

type lease struct {
	id     int64
	ttl    int64 // granted TTL in seconds, after raising to the minimum
	expiry time.Time
	// due is when the lease is next reported by Expired: expiry, or later after a report.
	due   time.Time
	keys  map[string]struct{}
	index int // in queue
	// checkpoint is the remaining TTL in seconds the leader last replicated (etcd's lease
	// checkpoint; 0 = none): a new leader counts down from it rather than a full TTL.
	checkpoint int64
}

// New returns an empty lessor.
func New(cfg Config) *Lessor {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MinTTL <= 0 {
		cfg.MinTTL = 2
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 3 * time.Second
	}
	return &Lessor{clock: cfg.Clock, minTTL: cfg.MinTTL, retryAfter: cfg.RetryAfter, leases: map[int64]*lease{}}
}

// Grant creates lease id with ttl seconds (raised to the minimum) and returns the TTL granted.
func (l *Lessor) Grant(id, ttl int64) (int64, error) {
	if ttl > MaxLeaseTTL {
		return 0, ErrLeaseTTLTooLarge
	}
	if ttl < l.minTTL {
		ttl = l.minTTL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.leases[id]; ok {
		return 0, ErrLeaseExists
	}
	le := &lease{id: id, ttl: ttl, keys: map[string]struct{}{}}
	le.expiry = l.clock.Now().Add(ttlDuration(ttl))
	le.due = le.expiry
	l.leases[id] = le
	heap.Push(&l.queue, le)
	return ttl, nil
}

func ttlDuration(ttl int64) time.Duration {
	if ttl > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(ttl) * time.Second
}

// setExpiry moves a queued lease's expiry.
func (l *Lessor) setExpiry(le *lease, t time.Time) {
	le.expiry, le.due = t, t
	heap.Fix(&l.queue, le.index)
}

// Renew restarts lease id's TTL and returns it. An expired lease is not renewed: it is on its
// way to being revoked, and ErrLeaseNotFound is returned, as etcd does.
func (l *Lessor) Renew(id int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.leases[id]
	now := l.clock.Now()
	if le == nil || !now.Before(le.expiry) {
		return -1, ErrLeaseNotFound
	}
	l.setExpiry(le, now.Add(ttlDuration(le.ttl)))
	return le.ttl, nil
}

// Exists reports whether lease id exists.
func (l *Lessor) Exists(id int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leases[id] != nil
}

// Info describes a lease.
type Info struct {
	ID int64
	// TTL is the remaining time in whole seconds (truncated, as etcd reports it).
	TTL int64
	// GrantedTTL is the TTL the lease was granted.
	GrantedTTL int64
	// Keys are the keys attached, sorted.
	Keys [][]byte
}

// TimeToLive describes lease id, with its keys if keys is set.
func (l *Lessor) TimeToLive(id int64, keys bool) (Info, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.leases[id]
	if le == nil {
		return Info{}, false
	}
	info := Info{ID: id, GrantedTTL: le.ttl, TTL: int64(le.expiry.Sub(l.clock.Now()) / time.Second)}
	if keys {
		info.Keys = le.sortedKeys()
	}
	return info, true
}

func (le *lease) sortedKeys() [][]byte {
	ks := make([][]byte, 0, len(le.keys))
	for k := range le.keys {
		ks = append(ks, []byte(k))
	}
	slices.SortFunc(ks, func(a, b []byte) int { return compareBytes(a, b) })
	return ks
}

func compareBytes(a, b []byte) int {
	switch {
	case string(a) < string(b):
		return -1
	case string(a) > string(b):
		return 1
	}
	return 0
}

// Keys returns the keys attached to lease id, sorted, so that every replica revokes them in
// the same order.
func (l *Lessor) Keys(id int64) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.leases[id]
	if le == nil {
		return nil, ErrLeaseNotFound
	}
	return le.sortedKeys(), nil
}

// Remove forgets lease id. Its keys must have been deleted (which detaches them) first.
func (l *Lessor) Remove(id int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.leases[id]
	if le == nil {
		return ErrLeaseNotFound
	}
	delete(l.leases, id)
	heap.Remove(&l.queue, le.index)
	return nil
}

// Leases returns the IDs of all leases, sorted.
func (l *Lessor) Leases() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]int64, 0, len(l.leases))
	for id := range l.leases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Expired returns up to limit leases (0 = no limit) whose TTL has run out, earliest first.
// A lease reported here is reported again after RetryAfter if it still exists, in case its
// revocation was lost.
func (l *Lessor) Expired(limit int) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	var ids []int64
	for len(l.queue) > 0 && !l.queue[0].due.After(now) && (limit <= 0 || len(ids) < limit) {
		le := l.queue[0]
		ids = append(ids, le.id)
		le.due = now.Add(l.retryAfter)
		heap.Fix(&l.queue, 0)
	}
	return ids
}

// Attach records that key is attached to lease id. Unknown leases are ignored: the caller
// checks existence before writing.
func (l *Lessor) Attach(id int64, key []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le := l.leases[id]; le != nil {
		le.keys[string(key)] = struct{}{}
	}
}

// Detach records that key no longer belongs to lease id.
func (l *Lessor) Detach(id int64, key []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le := l.leases[id]; le != nil {
		delete(le.keys, string(key))
	}
}

// Entry is a lease as saved in a snapshot.
type Entry struct {
	ID  int64
	TTL int64
	// Remaining is the time left before expiry when the snapshot was taken.
	Remaining time.Duration
	// Checkpoint is the replicated remaining TTL in seconds (0 = none).
	Checkpoint int64
}

// Entries returns every lease, sorted by ID, for a snapshot.
func (l *Lessor) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	es := make([]Entry, 0, len(l.leases))
	for _, le := range l.leases {
		es = append(es, Entry{ID: le.id, TTL: le.ttl, Remaining: le.expiry.Sub(now), Checkpoint: le.checkpoint})
	}
	slices.SortFunc(es, func(a, b Entry) int { return compareInt(a.ID, b.ID) })
	return es
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Restore adds a lease from a snapshot, keeping its remaining time (which is stricter than
// etcd's fresh TTL on restart, and within its guarantee).
func (l *Lessor) Restore(e Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.leases[e.ID]; ok {
		return ErrLeaseExists
	}
	le := &lease{id: e.ID, ttl: e.TTL, keys: map[string]struct{}{}, checkpoint: max(e.Checkpoint, 0)}
	t := l.clock.Now().Add(e.Remaining)
	le.expiry, le.due = t, t
	l.leases[e.ID] = le
	heap.Push(&l.queue, le)
	return nil
}

// Promote gives every lease its TTL plus extend from now, as a new leader does so that no
// lease expires because of the leadership change: the checkpointed remaining TTL if there is
// one (so that repeated leader changes do not keep a lease alive for ever), else the full TTL.
func (l *Lessor) Promote(extend time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for _, le := range l.leases {
		ttl := le.ttl
		if le.checkpoint > 0 {
			ttl = le.checkpoint
		}
		t := now.Add(ttlDuration(ttl) + extend)
		le.expiry, le.due = t, t
	}
	heap.Init(&l.queue)
}

// Checkpoint records lease id's replicated remaining TTL in seconds (0 clears it). It does
// not move the expiry: only Promote reads it. It reports whether the lease exists.
func (l *Lessor) Checkpoint(id, remaining int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.leases[id]
	if le == nil {
		return false
	}
	le.checkpoint = max(remaining, 0)
	return true
}

// Checkpointed reports whether lease id has a checkpointed remaining TTL, which a renewal
// must clear (through the log) so that a new leader does not count down from it.
func (l *Lessor) Checkpointed(id int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.leases[id]
	return le != nil && le.checkpoint > 0
}

// expiryQueue is a min-heap of leases by due time.
type expiryQueue []*lease

func (q expiryQueue) Len() int { return len(q) }
func (q expiryQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].id < q[j].id
}
func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *expiryQueue) Push(x any) {
	le := x.(*lease)
	le.index = len(*q)
	*q = append(*q, le)
}
func (q *expiryQueue) Pop() any {
	old := *q
	le := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	le.index = -1
	return le
}
