// Package etcdexport writes a MetaStore snapshot as an etcd 3.6 db file: the bbolt file
// `etcdctl snapshot save` writes from etcd, SHA-256 included, so that the real `etcdutl
// snapshot restore` takes it and an etcd started on the restored data dir serves the same
// state (issue #12, "back to etcd"). It is server/etcdsnap's opposite direction.
//
// Written (etcd 3.6's schema, go.etcd.io/etcd/server/v3/storage/schema):
//
//	key      every record the store holds, less any its last compaction was still to delete,
//	         in revision order: the key is the revision (8-byte big-endian main, '_', 8-byte
//	         sub, then 't' for a tombstone), the value a mvccpb.KeyValue (a tombstone's holds
//	         only the key), as etcd's mvcc writes them
//	meta     storageVersion "3.6.0"; scheduledCompactRev and finishedCompactRev (both the
//	         compacted revision, as a revision key with sub 0) if the store was compacted;
//	         consistent_index and term, 0 (see below)
//	lease    one leasepb.Lease {ID, TTL, RemainingTTL if checkpointed} per lease, under its
//	         8-byte big-endian ID
//	auth     authEnabled (1 or 0) and authRevision (8-byte big-endian)
//	authUsers, authRoles
//	         authpb.User (bcrypt hash, sorted roles, the no-password option) and authpb.Role
//	         (permissions in the store's order, which is etcd's) under their names
//	alarm, cluster, members, members_removed
//	         empty: etcdutl's restore writes the new cluster's members into them
//
// What etcd keeps and a MetaStore snapshot cannot tell: the Raft position (consistent_index
// and term are MetaStore's own log's, not in the snapshot; etcdutl's restore overwrites both
// with its new log's, and 0 is what a member starting on the file without etcdutl would want:
// it applies its whole new log), the conf state and members (the restore makes a new cluster,
// as it does for etcd's own files), the cluster version and alarms. A lease's remaining time
// is not kept either: etcd grants every lease its TTL again on start (or the checkpointed
// remaining TTL), as after any restore.
//
// The file is written with bbolt (go.etcd.io/bbolt, etcd's own storage engine) rather than by
// hand: bbolt is the format's definition, and etcd reads the file back with it. The records
// go into a scratch bbolt file in one transaction; the output is then copied from it with
// bbolt's Tx.WriteTo, which is how etcd's Snapshot RPC streams its db, followed by the SHA-256
// that `etcdctl snapshot save` appends. Both are written next to the output and renamed into
// place, so a failure leaves no output behind.
package etcdexport
