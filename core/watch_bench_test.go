package core

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkWatchFanout measures one write delivered to 10,000 watchers of the same key,
// spread over a number of streams, each stream drained by its own goroutine. One op is one
// put until every watcher has received its event; ns/event is the time per delivered event.
//
// With 100 streams a stream gets 100 responses per write, within its default 128-slot
// buffer: the synced fast path. With 10 streams (1,000 watchers each) a write overflows the
// buffers and most watchers go through the victim and catch-up path.
func BenchmarkWatchFanout(b *testing.B) {
	const watchers = 10_000
	for _, streams := range []int{100, 10, 1_000} {
		b.Run(fmt.Sprintf("watchers=%d/streams=%d", watchers, streams), func(b *testing.B) {
			benchWatchFanout(b, watchers, streams)
		})
	}
}

func benchWatchFanout(b *testing.B, watchers, streams int) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	var received, target atomic.Int64
	reached := make(chan struct{}, 1)
	var drainers sync.WaitGroup
	wss := make([]*WatchStream, streams)
	key := []byte("fanout")
	for i := range wss {
		ws := s.NewWatchStream()
		wss[i] = ws
		drainers.Add(1)
		go func() {
			defer drainers.Done()
			for {
				select {
				case r := <-ws.Chan():
					n := int64(len(r.Events))
					if n == 0 {
						continue // Created responses
					}
					got, want := received.Add(n), target.Load()
					if got >= want && got-n < want {
						reached <- struct{}{}
					}
				case <-ws.Done():
					return
				}
			}
		}()
		for range watchers / streams {
			if _, err := ws.Create(&WatchCreateRequest{Key: key}); err != nil {
				b.Fatal(err)
			}
		}
	}
	total := int64(watchers / streams * streams)
	value := []byte("value")

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		target.Store(int64(i+1) * total)
		if _, err := s.Put(&PutRequest{Key: key, Value: value}); err != nil {
			b.Fatal(err)
		}
		<-reached
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*total), "ns/event")

	if got := received.Load(); got != int64(b.N)*total {
		b.Fatalf("received %d events, want %d", got, int64(b.N)*total)
	}
	for _, ws := range wss {
		ws.Close()
	}
	drainers.Wait()
}
