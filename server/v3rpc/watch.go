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
	hdr := s.n.Header()
	limit := s.n.Config().MaxRequestBytes + grpcOverhead

	errc := make(chan error, 1)
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
				ws.Create(pbconv.WatchCreateRequest(req.GetCreateRequest()))
			case req.GetCancelRequest() != nil:
				ws.Cancel(watchID(req.GetCancelRequest().WatchId))
			case req.GetProgressRequest() != nil:
				ws.RequestProgress()
			}
		}
	}()
	for {
		select {
		case r := <-ws.Chan():
			for _, m := range pbconv.WatchResponses(&r, hdr, limit) {
				if err := stream.Send(m); err != nil {
					return err
				}
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

func watchID(id int64) mvcc.WatchID { return mvcc.WatchID(id) }
