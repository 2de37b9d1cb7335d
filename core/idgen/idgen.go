// Package idgen makes unique positive 63-bit IDs the way etcd does (pkg/idutil): a 16-bit
// member prefix, then a 48-bit counter seeded from the clock's milliseconds, so IDs from
// different members and from restarts do not collide.
package idgen

import (
	"sync/atomic"
	"time"
)

const (
	tsLen     = 5 * 8
	cntLen    = 8
	suffixLen = tsLen + cntLen
)

// Generator hands out IDs; it is safe for concurrent use.
type Generator struct {
	prefix uint64
	suffix atomic.Uint64
}

// New returns a generator for the given member, seeded from now.
func New(memberID uint16, now time.Time) *Generator {
	g := &Generator{prefix: uint64(memberID) << suffixLen}
	unixMilli := uint64(now.UnixNano()) / uint64(time.Millisecond)
	g.suffix.Store(lowbit(unixMilli, tsLen) << cntLen)
	return g
}

// Next returns the next ID: positive, non-zero, fits in an int64.
func (g *Generator) Next() int64 {
	for {
		id := int64((g.prefix | lowbit(g.suffix.Add(1), suffixLen)) & (1<<63 - 1))
		if id != 0 {
			return id
		}
	}
}

func lowbit(x uint64, n uint) uint64 { return x & (^uint64(0) >> (64 - n)) }
