package gateway

import (
	"sync"

	"github.com/metastore/metastore/core"
)

// Streams are the watch streams a bridge has open, by the ID the page knows each by (as a
// string in JSON: Int64). Safe for concurrent use.
type Streams struct {
	mu   sync.Mutex
	open map[int64]*core.WatchStream
	last int64
}

// Add registers ws and returns its ID.
func (s *Streams) Add(ws *core.WatchStream) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == nil {
		s.open = map[int64]*core.WatchStream{}
	}
	s.last++
	s.open[s.last] = ws
	return s.last
}

// Get returns the stream with ID id, or nil.
func (s *Streams) Get(id int64) *core.WatchStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[id]
}

// Close closes and forgets the stream with ID id, if it is open.
func (s *Streams) Close(id int64) {
	s.mu.Lock()
	ws := s.open[id]
	delete(s.open, id)
	s.mu.Unlock()
	if ws != nil {
		ws.Close()
	}
}

// CloseAll closes and forgets every stream (their store is being replaced).
func (s *Streams) CloseAll() {
	s.mu.Lock()
	open := s.open
	s.open = nil
	s.mu.Unlock()
	for _, ws := range open {
		ws.Close()
	}
}

// StreamID is a request naming a watch stream (watch.next, watch.cancel).
type StreamID struct {
	Stream int64 `json:"stream,string"`
}
