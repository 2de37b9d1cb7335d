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

// WatchResponses converts a watch message for a stream whose messages may not exceed limit
// bytes. A message too large for it is split between events when the watcher asked for
// fragments (all parts but the last marked Fragment, as etcd does); otherwise it goes whole.
func WatchResponses(r *mvcc.WatchResponse, hdr *Header, limit int) []*pb.WatchResponse {
	m := WatchResponse(r, hdr)
	if !r.Fragment || len(m.Events) < 2 || m.Size() <= limit {
		return []*pb.WatchResponse{m}
	}
	var out []*pb.WatchResponse
	base := m.Size()
	for _, ev := range m.Events {
		base -= ev.Size() + 2
	}
	cur := &pb.WatchResponse{Header: m.Header, WatchId: m.WatchId, Fragment: true}
	size := base
	for _, ev := range m.Events {
		es := ev.Size() + 8
		if len(cur.Events) > 0 && size+es > limit {
			out = append(out, cur)
			cur = &pb.WatchResponse{Header: m.Header, WatchId: m.WatchId, Fragment: true}
			size = base
		}
		cur.Events = append(cur.Events, ev)
		size += es
	}
	cur.Fragment = false
	return append(out, cur)
}
