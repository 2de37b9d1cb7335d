package core

import "github.com/metastore/metastore/core/mvcc"

// WatchCreateRequest is etcd's WatchCreateRequest.
type WatchCreateRequest struct {
	// Key and RangeEnd follow etcd's conventions: an empty Key means "\x00", an empty
	// RangeEnd the key alone, "\x00" every key from Key on.
	Key, RangeEnd  []byte
	StartRevision  int64
	ProgressNotify bool
	NoPut          bool
	NoDelete       bool
	PrevKv         bool
	WatchID        int64
	Fragment       bool
}

// WatchStream carries many watchers, like one gRPC Watch stream; see mvcc.WatchStream for
// the ordering guarantees.
type WatchStream struct {
	*mvcc.WatchStream
}

// NewWatchStream opens a watch stream.
func (s *Store) NewWatchStream() *WatchStream {
	return &WatchStream{s.kv.NewWatchStream()}
}

// MoveWatchStreams moves the watch streams open on s to to, which replaces s (see
// mvcc.Store.MoveWatchStreams).
func (s *Store) MoveWatchStreams(to *Store) { s.kv.MoveWatchStreams(to.kv) }

// Create adds a watcher. Its Created response (or, for a bad request, a Created+Canceled
// response with Err set) is queued on the stream before any event.
func (ws *WatchStream) Create(r *WatchCreateRequest) (mvcc.WatchID, error) {
	key := r.Key
	if len(key) == 0 {
		key = []byte{0}
	}
	return ws.Watch(mvcc.WatchRequest{
		ID:             mvcc.WatchID(r.WatchID),
		Key:            key,
		End:            mkGteRange(r.RangeEnd),
		StartRev:       r.StartRevision,
		PrevKV:         r.PrevKv,
		NoPut:          r.NoPut,
		NoDelete:       r.NoDelete,
		ProgressNotify: r.ProgressNotify,
		Fragment:       r.Fragment,
	})
}
