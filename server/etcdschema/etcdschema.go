// Package etcdschema names what an etcd 3.6 backend (bbolt) file holds — its buckets and meta
// keys (go.etcd.io/etcd/server/v3/storage/schema) — and encodes its revision keys, for the
// two packages that meet it: etcdsnap reads such files, etcdexport writes them.
package etcdschema

import (
	"encoding/binary"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// Buckets.
const (
	BucketKey            = "key"
	BucketMeta           = "meta"
	BucketLease          = "lease"
	BucketAlarm          = "alarm"
	BucketCluster        = "cluster"
	BucketMembers        = "members"
	BucketMembersRemoved = "members_removed"
	BucketAuth           = "auth"
	BucketAuthUsers      = "authUsers"
	BucketAuthRoles      = "authRoles"
)

// AllBuckets are the buckets an etcd 3.6 db holds (schema.AllBuckets).
var AllBuckets = []string{BucketKey, BucketMeta, BucketLease, BucketAlarm, BucketCluster,
	BucketMembers, BucketMembersRemoved, BucketAuth, BucketAuthUsers, BucketAuthRoles}

// Keys of the meta and auth buckets.
const (
	MetaConsistentIndex     = "consistent_index"
	MetaTerm                = "term"
	MetaScheduledCompactRev = "scheduledCompactRev"
	MetaFinishedCompactRev  = "finishedCompactRev"
	MetaStorageVersion      = "storageVersion"
	AuthEnabled             = "authEnabled"
	AuthRevision            = "authRevision"
)

// RevKey is the key bucket's key for a revision (etcd's mvcc.BucketKeyToBytes): 8-byte main,
// '_', 8-byte sub, and 't' for a tombstone.
func RevKey(rev kv.Revision, tombstone bool) []byte {
	return backend.AppendEtcdKey(make([]byte, 0, 18), rev, tombstone)
}

// ParseRevKey decodes a RevKey; ok is false for anything else.
func ParseRevKey(k []byte) (rev kv.Revision, tombstone, ok bool) {
	if !(len(k) == 17 || len(k) == 18 && k[17] == 't') || k[8] != '_' {
		return kv.Revision{}, false, false
	}
	rev = kv.Revision{Main: int64(binary.BigEndian.Uint64(k)), Sub: int64(binary.BigEndian.Uint64(k[9:]))}
	return rev, len(k) == 18, true
}
