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
	return watchResponse(r, hdr, nil)
}

// EventCache keeps a stream's last converted events. The watch hub hands every watcher that
// keeps all of a revision's events the same slice, so a stream with many watchers on one key
// converts each revision once, not once per watcher (10k watchers on a key: a conversion
// and three allocations per delivered event). The converted events are shared between
// responses, which are only marshalled, never changed. The zero value is ready to use.
type EventCache struct {
	src *kv.Event // first element of the slice converted last; held, so never reused
	n   int
	out []*mvccpb.Event
}

func (c *EventCache) events(evs []kv.Event) []*mvccpb.Event {
	if c != nil && c.src == &evs[0] && c.n == len(evs) {
		return c.out
	}
	out := make([]*mvccpb.Event, len(evs))
	for i := range evs {
		out[i] = Event(&evs[i])
	}
	if c != nil {
		c.src, c.n, c.out = &evs[0], len(evs), out
	}
	return out
}

func watchResponse(r *mvcc.WatchResponse, hdr *Header, c *EventCache) *pb.WatchResponse {
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
		out.Events = c.events(r.Events)
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
// Events already converted for the stream come from c, if not nil.
func WatchResponses(r *mvcc.WatchResponse, hdr *Header, limit int, c *EventCache) []*pb.WatchResponse {
	m := watchResponse(r, hdr, c)
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
