// Package kv holds the plain data types of the store: revisions, key-value pairs and events.
//
// They mirror etcd's mvccpb messages field by field, so the server can translate them at its
// edge without the core importing protobuf or gRPC.
package kv

import "fmt"

// Revision names one change: Main is the store revision of the transaction that made it, Sub
// its position among that transaction's changes (0, 1, 2, … in execution order).
type Revision struct {
	Main int64
	Sub  int64
}

// Less orders revisions by Main, then Sub.
func (a Revision) Less(b Revision) bool {
	if a.Main != b.Main {
		return a.Main < b.Main
	}
	return a.Sub < b.Sub
}

func (a Revision) String() string { return fmt.Sprintf("%d.%d", a.Main, a.Sub) }

// KeyValue is one version of a key, as etcd's mvccpb.KeyValue.
type KeyValue struct {
	Key []byte
	// CreateRevision is the revision of the put that created this generation of the key.
	CreateRevision int64
	// ModRevision is the revision of the put (or delete, in a DELETE event) that made this version.
	ModRevision int64
	// Version is 1 on creation and grows by one with every put; a delete resets it.
	Version int64
	Value   []byte
	// Lease is the ID of the lease the key is attached to, 0 for none.
	Lease int64
}

// EventType says whether an event is a put or a delete; the values are etcd's.
type EventType int32

const (
	PUT    EventType = 0
	DELETE EventType = 1
)

func (t EventType) String() string {
	if t == DELETE {
		return "DELETE"
	}
	return "PUT"
}

// Event is one change seen by a watcher. A DELETE carries only Key and ModRevision (the delete's
// revision) in Kv, as etcd does. PrevKv is the key's previous version when the watcher asked for
// it and it is still in history.
type Event struct {
	Type   EventType
	Kv     KeyValue
	PrevKv *KeyValue
}

// IsCreate reports whether a PUT created its key.
func (e Event) IsCreate() bool {
	return e.Type == PUT && e.Kv.CreateRevision == e.Kv.ModRevision
}

// PrefixEnd returns the range end that selects every key starting with prefix (etcd's
// GetPrefixRangeEnd): the prefix with its last byte below 0xff incremented; "\x00" (every key
// from prefix on) when there is none.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}
