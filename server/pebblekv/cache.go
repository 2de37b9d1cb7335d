package pebblekv

import (
	"sync"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// recordCache keeps recently written or read records in memory, decoded. Records never
// change once written, so the cache needs no invalidation: it is written through on commit,
// forgets what compaction deletes, and drops entries at random (Go's map order) when full.
type recordCache struct {
	mu    sync.RWMutex // guards m and bytes
	m     map[kv.Revision]*backend.Record
	bytes int64
	max   int64
}

// cacheEntryCost approximates a cached record's memory beyond its key and value.
const cacheEntryCost = 160

func newRecordCache(max int64) *recordCache {
	return &recordCache{m: map[kv.Revision]*backend.Record{}, max: max}
}

func entryCost(r *backend.Record) int64 {
	return int64(len(r.KV.Key)+len(r.KV.Value)) + cacheEntryCost
}

func (c *recordCache) get(rev kv.Revision) (*backend.Record, bool) {
	c.mu.RLock()
	r, ok := c.m[rev]
	c.mu.RUnlock()
	return r, ok
}

// add caches r, which the caller no longer modifies.
func (c *recordCache) add(r *backend.Record) {
	cost := entryCost(r)
	if cost > c.max/16 {
		return // one huge value must not flush everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[r.Rev]; ok {
		c.bytes -= entryCost(old)
	}
	c.m[r.Rev] = r
	c.bytes += cost
	if c.bytes > c.max {
		// A little at a time: this runs under the lock, in a commit; dropping a tenth of
		// the cache at once (thousands of entries) was a pause every reader and writer saw.
		for rev, e := range c.m {
			delete(c.m, rev)
			c.bytes -= entryCost(e)
			if c.bytes <= c.max-c.max/64 {
				break
			}
		}
	}
}

// remove forgets the records at revs (a compaction's batch), under one lock.
func (c *recordCache) remove(revs ...kv.Revision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rev := range revs {
		if old, ok := c.m[rev]; ok {
			c.bytes -= entryCost(old)
			delete(c.m, rev)
		}
	}
}
