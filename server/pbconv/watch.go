package pbconv

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

func WatchCreateRequest(r *pb.WatchCreateRequest) *core.WatchCreateRequest {
	out := &core.WatchCreateRequest{
		Key: r.Key, RangeEnd: r.RangeEnd, StartRevision: r.StartRevision,
		ProgressNotify: r.ProgressNotify, PrevKv: r.PrevKv, WatchID: r.WatchId, Fragment: r.Fragment,
	}
	for _, f := range r.Filters {
		switch f {
		case pb.WatchCreateRequest_NOPUT:
			out.NoPut = true
		case pb.WatchCreateRequest_NODELETE:
			out.NoDelete = true
		}
	}
	return out
}

// WatchResponse converts one watch stream message. A failed create carries etcd's text for
// its error as the cancel reason.
func WatchResponse(r *mvcc.WatchResponse, hdr *Header) *pb.WatchResponse {
	out := &pb.WatchResponse{
		Header:          header(hdr, core.ResponseHeader{Revision: r.Revision}),
		WatchId:         int64(r.WatchID),
		Created:         r.Created,
		Canceled:        r.Canceled,
		CompactRevision: r.CompactRevision,
		Fragment:        r.Fragment,
	}
	if r.Err != nil {
		out.CancelReason = CancelReason(r.Err)
	}
	if len(r.Events) > 0 {
		out.Events = make([]*mvccpb.Event, len(r.Events))
		for i := range r.Events {
			out.Events[i] = Event(&r.Events[i])
		}
	}
	return out
}

// Event converts a core event.
func Event(e *kv.Event) *mvccpb.Event {
	return &mvccpb.Event{Type: mvccpb.Event_EventType(e.Type), Kv: KeyValue(&e.Kv), PrevKv: KeyValue(e.PrevKv)}
}

// CancelReason is the text etcd puts in a failed watch create's cancel_reason.
func CancelReason(err error) string {
	switch err {
	case mvcc.ErrCompacted:
		_, msg := core.Status(err)
		return msg
	}
	return err.Error()
}
