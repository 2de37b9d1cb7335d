package v3rpc

import (
	"context"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

type watchServer struct {
	pb.UnimplementedWatchServer
	n *node.Node
}

// Watch bridges one gRPC stream to one core watch stream: requests go in from a receive
// goroutine, responses (created, events, progress, cancels, all already in order) go out
// from this one.
func (s *watchServer) Watch(stream pb.Watch_WatchServer) error {
	ws := s.n.Store().NewWatchStream()
	defer ws.Close()
	limit := s.n.Config().MaxRequestBytes + GRPCOverhead

	errc := make(chan error, 1)
	// A watch the caller may not create is answered with a cancel (watch ID -1) on the
	// still open stream, as etcd does; the answer goes out from this goroutine, the only one
	// that sends.
	denied := make(chan *pb.WatchResponse, 16)
	go func() {
		for {
			req, err := stream.Recv()
			if err == io.EOF {
				return // the client stopped sending; keep streaming until it goes away
			}
			if err != nil {
				errc <- err
				return
			}
			switch {
			case req.GetCreateRequest() != nil:
				cr := req.GetCreateRequest()
				if err := s.checkWatch(stream.Context(), cr); err != nil {
					select {
					case denied <- &pb.WatchResponse{Header: pbconv.ResponseHeader(s.n.Header(), s.n.Store().Rev()), WatchId: -1,
						Created: true, Canceled: true, CancelReason: pbconv.Error(err).Error()}:
					case <-stream.Context().Done():
						return
					}
					continue
				}
				ws.Create(pbconv.WatchCreateRequest(cr))
			case req.GetCancelRequest() != nil:
				ws.Cancel(watchID(req.GetCancelRequest().WatchId))
			case req.GetProgressRequest() != nil:
				ws.RequestProgress()
			}
		}
	}()
	var events pbconv.EventCache
	for {
		select {
		case r := <-ws.Chan():
			// The header's term is the member's now, as etcd's is: a stream outlives terms.
			for _, m := range pbconv.WatchResponses(&r, s.n.Header(), limit, &events) {
				if err := stream.Send(m); err != nil {
					return err
				}
			}
		case m := <-denied:
			if err := stream.Send(m); err != nil {
				return err
			}
		case err := <-errc:
			if err == context.Canceled {
				return pbconv.ErrWatchCanceled
			}
			return err
		case <-stream.Context().Done():
			if stream.Context().Err() == context.Canceled {
				return pbconv.ErrWatchCanceled
			}
			return stream.Context().Err()
		}
	}
}

// checkWatch checks the caller may read what a watch covers (a watch on key "" covers the
// key "\x00", as etcd checks it).
func (s *watchServer) checkWatch(ctx context.Context, r *pb.WatchCreateRequest) error {
	key := r.Key
	if len(key) == 0 {
		key = []byte{0}
	}
	return s.n.CheckWatch(ctx, key, r.RangeEnd)
}

func watchID(id int64) mvcc.WatchID { return mvcc.WatchID(id) }
