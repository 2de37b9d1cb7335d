// Package mvcc is the multi-version key-value store at the heart of MetaStore: etcd's revision
// model (a key index in memory, every version in a Backend), transactions, compaction, hashing,
// and the watch hub that streams changes to watchers.
//
// A Store starts at revision 1. Each write transaction that changes anything gets the next main
// revision; its changes are numbered by sub-revision in execution order. Reads see any revision
// from the compact revision up. Writers are serialised; readers run concurrently with each
// other.
package mvcc
