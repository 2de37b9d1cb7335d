//go:build !js

package differential

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
)

// watchLog receives one watch stream in the background, keeping each watcher's events and
// the latest stream-wide progress revision.
type watchLog struct {
	recv     func() (*pb.WatchResponse, error)
	progress func() error // asks for a progress notification
	// who, if set, names a server (etcd or metastore) whose every response must carry a
	// complete header; the core in-process has none.
	who string

	mu      sync.Mutex
	ids     map[int64]int // watch ID → index of its create request
	events  [][]*mvccpb.Event
	progRev int64
	failure error
}

func newWatchLog(n int, recv func() (*pb.WatchResponse, error), progress func() error) *watchLog {
	return &watchLog{recv: recv, progress: progress, ids: map[int64]int{}, events: make([][]*mvccpb.Event, n)}
}

// create opens the watchers one at a time, as clientv3 does, then starts receiving.
func (w *watchLog) create(t *testing.T, send func(*pb.WatchCreateRequest) error, reqs []*pb.WatchCreateRequest) {
	for i, req := range reqs {
		if err := send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := w.recv()
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Created || resp.Canceled {
			t.Fatalf("watch %d: want created, got %v", i, resp)
		}
		if err := w.checkHeader(resp); err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		w.ids[resp.WatchId] = i
	}
	go w.pump()
}

func (w *watchLog) pump() {
	for {
		r, err := w.recv()
		if err == nil {
			err = w.checkHeader(r)
		}
		w.mu.Lock()
		switch {
		case err != nil:
			w.failure = err
		case r.WatchId == -1 && len(r.Events) == 0:
			w.progRev = max(w.progRev, r.Header.Revision)
		case r.Canceled:
			w.failure = fmt.Errorf("watch %d canceled: %v", r.WatchId, r)
		default:
			i, ok := w.ids[r.WatchId]
			if !ok {
				w.failure = fmt.Errorf("response for unknown watch %d: %v", r.WatchId, r)
				break
			}
			w.events[i] = append(w.events[i], r.Events...)
		}
		stop := w.failure != nil
		w.mu.Unlock()
		if stop {
			return
		}
	}
}

// checkHeader requires a server's watch response to carry cluster_id, member_id, revision and
// raft_term, as etcd's every watch response does (the events are compared, not the headers).
func (w *watchLog) checkHeader(r *pb.WatchResponse) error {
	if w.who == "" {
		return nil
	}
	if err := headerComplete(w.who, r.Header); err != nil {
		return fmt.Errorf("watch response %v: %w", r, err)
	}
	return nil
}

// collect waits until a progress notification at or past final arrives: every event up to
// final has been delivered before it.
func (w *watchLog) collect(t *testing.T, final int64) [][]*mvccpb.Event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		w.mu.Lock()
		done, err := w.progRev >= final, w.failure
		w.mu.Unlock()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch: no progress notification at revision %d after 60s", final)
		}
		if err := w.progress(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.events
}

// startGRPCWatches opens the watchers on one stream of who ("etcd" or "metastore").
func startGRPCWatches(t *testing.T, ctx context.Context, who string, c pb.WatchClient, reqs []*pb.WatchCreateRequest) *watchLog {
	stream, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := newWatchLog(len(reqs), stream.Recv, func() error {
		return stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}})
	})
	w.who = who
	w.create(t, func(r *pb.WatchCreateRequest) error {
		return stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: r}})
	}, reqs)
	return w
}

func startCoreWatches(t *testing.T, s *core.Store, reqs []*pb.WatchCreateRequest) *watchLog {
	ws := s.NewWatchStream()
	t.Cleanup(ws.Close)
	recv := func() (*pb.WatchResponse, error) {
		select {
		case r := <-ws.Chan():
			return pbconv.WatchResponse(&r, &pbconv.Header{}), nil
		case <-ws.Done():
			return nil, fmt.Errorf("stream closed")
		}
	}
	w := newWatchLog(len(reqs), recv, func() error { ws.RequestProgress(); return nil })
	w.create(t, func(r *pb.WatchCreateRequest) error {
		_, err := ws.Create(pbconv.WatchCreateRequest(r))
		return err
	}, reqs)
	return w
}

// compareEvents requires identical event streams. One difference is allowed: etcd reads an
// event's prev_kv when it sends the event, so after a compaction past the previous version it
// leaves prev_kv out; the core takes it when the event happens and always has it.
func compareEvents(t *testing.T, i int, want, got []*mvccpb.Event, compactRev int64) {
	t.Helper()
	for j := 0; j < min(len(want), len(got)); j++ {
		if want[j].PrevKv == nil && got[j].PrevKv != nil && want[j].Kv.ModRevision-1 < compactRev {
			g := *got[j]
			g.PrevKv = nil
			got[j] = &g
		}
		wb, _ := want[j].Marshal()
		gb, _ := got[j].Marshal()
		if !bytes.Equal(wb, gb) {
			t.Fatalf("watch %d event %d differs:\netcd: %v\ncore: %v", i, j, want[j], got[j])
		}
	}
	if len(want) != len(got) {
		t.Fatalf("watch %d: etcd sent %d events, core %d", i, len(want), len(got))
	}
	t.Logf("watch %d: %d events identical", i, len(want))
}
