package v3rpc

import (
	"context"
	"errors"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	epb "go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

// The election and lock services follow clientv3's concurrency package, as etcd's own do
// (etcd runs that package against itself through a loopback client; we run the same
// transactions and waits on the node directly). Their errors are plain texts, which reach
// clients as codes.Unknown, as etcd's do.
var (
	ErrMissingLeaderKey  = errors.New(`"leader" field must be provided`)
	ErrElectionNotLeader = errors.New("election: not leader")
	ErrElectionNoLeader  = errors.New("election: no leader")
	ErrSessionExpired    = errors.New("mutex: session is expired")
)

type electionServer struct {
	epb.UnimplementedElectionServer
	n *node.Node
}

func createRevIs(key []byte, rev int64) *pb.Compare {
	return &pb.Compare{Target: pb.Compare_CREATE, Result: pb.Compare_EQUAL, Key: key,
		TargetUnion: &pb.Compare_CreateRevision{CreateRevision: rev}}
}

func opPut(key, val []byte, lease int64) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: key, Value: val, Lease: lease}}}
}

func opGet(key []byte) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: key}}}
}

// firstCreate is clientv3's WithFirstCreate over a prefix: its oldest key.
func firstCreate(pfx []byte) *pb.RangeRequest {
	return &pb.RangeRequest{Key: pfx, RangeEnd: kv.PrefixEnd(pfx), SortTarget: pb.RangeRequest_CREATE,
		SortOrder: pb.RangeRequest_ASCEND, Limit: 1}
}

// acquire is the campaign/lock transaction: create key under lease unless it exists, and
// return its create revision (the caller's place in line) and the txn's response.
func acquire(ctx context.Context, n *node.Node, key, val []byte, lease int64, extra *pb.RangeRequest) (int64, *pb.TxnResponse, error) {
	then := []*pb.RequestOp{opPut(key, val, lease)}
	els := []*pb.RequestOp{opGet(key)}
	if extra != nil {
		then = append(then, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: extra}})
		els = append(els, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: extra}})
	}
	resp, err := kvFor(n).Txn(ctx, &pb.TxnRequest{Compare: []*pb.Compare{createRevIs(key, 0)}, Success: then, Failure: els})
	if err != nil {
		return 0, nil, err
	}
	rev := resp.Header.Revision
	if !resp.Succeeded {
		rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	return rev, resp, nil
}

// waitDeletes waits until no key under pfx with a create revision at or below maxCreateRev
// is left: everyone ahead in line has gone.
func waitDeletes(ctx context.Context, n *node.Node, pfx []byte, maxCreateRev int64) (*pb.ResponseHeader, error) {
	for {
		resp, err := kvFor(n).Range(ctx, &pb.RangeRequest{Key: pfx, RangeEnd: kv.PrefixEnd(pfx), SortTarget: pb.RangeRequest_CREATE,
			SortOrder: pb.RangeRequest_DESCEND, Limit: 1, MaxCreateRevision: maxCreateRev})
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			return resp.Header, nil
		}
		if err := waitDelete(ctx, n, resp.Kvs[0].Key, resp.Header.Revision); err != nil {
			return nil, err
		}
	}
}

// waitDelete waits for key to be deleted after revision rev.
func waitDelete(ctx context.Context, n *node.Node, key []byte, rev int64) error {
	return watchKey(ctx, n, key, rev+1, func(ev kv.Event) bool { return ev.Type == kv.DELETE })
}

// watchKey watches key from revision start and calls fn for each event until fn returns
// true, the context ends, or compaction cancels the watch.
func watchKey(ctx context.Context, n *node.Node, key []byte, start int64, fn func(kv.Event) bool) error {
	return watchRange(ctx, n, key, nil, start, fn)
}

// watchRange is watchKey over [key, end) (etcd's range_end conventions).
func watchRange(ctx context.Context, n *node.Node, key, end []byte, start int64, fn func(kv.Event) bool) error {
	ws := n.Store().NewWatchStream()
	defer ws.Close()
	if _, err := ws.Create(&core.WatchCreateRequest{Key: key, RangeEnd: end, StartRevision: start}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ws.Chan():
			if r.Canceled {
				return core.ErrCompacted
			}
			for _, ev := range r.Events {
				if fn(ev) {
					return nil
				}
			}
		}
	}
}

func (s *electionServer) Campaign(ctx context.Context, r *epb.CampaignRequest) (*epb.CampaignResponse, error) {
	pfx := append(append([]byte(nil), r.Name...), '/')
	key := []byte(fmt.Sprintf("%s%x", pfx, r.Lease))
	rev, resp, err := acquire(ctx, s.n, key, r.Value, r.Lease, nil)
	if err != nil {
		return nil, err
	}
	leader := &epb.LeaderKey{Name: r.Name, Key: key, Rev: rev, Lease: r.Lease}
	if !resp.Succeeded {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; string(kvs[0].Value) != string(r.Value) {
			if _, err := s.proclaim(ctx, leader, r.Value); err != nil {
				s.resign(context.Background(), leader)
				return nil, err
			}
		}
	}
	if _, err := waitDeletes(ctx, s.n, pfx, rev-1); err != nil {
		if ctx.Err() != nil {
			s.resign(context.Background(), leader)
		}
		return nil, err
	}
	return &epb.CampaignResponse{Header: resp.Header, Leader: leader}, nil
}

func (s *electionServer) proclaim(ctx context.Context, l *epb.LeaderKey, val []byte) (*pb.ResponseHeader, error) {
	resp, err := kvFor(s.n).Txn(ctx, &pb.TxnRequest{
		Compare: []*pb.Compare{createRevIs(l.Key, l.Rev)},
		Success: []*pb.RequestOp{opPut(l.Key, val, l.Lease)},
	})
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return nil, ErrElectionNotLeader
	}
	return resp.Header, nil
}

func (s *electionServer) Proclaim(ctx context.Context, r *epb.ProclaimRequest) (*epb.ProclaimResponse, error) {
	if r.Leader == nil {
		return nil, ErrMissingLeaderKey
	}
	h, err := s.proclaim(ctx, r.Leader, r.Value)
	if err != nil {
		return nil, err
	}
	return &epb.ProclaimResponse{Header: h}, nil
}

func (s *electionServer) resign(ctx context.Context, l *epb.LeaderKey) (*pb.ResponseHeader, error) {
	resp, err := kvFor(s.n).Txn(ctx, &pb.TxnRequest{
		Compare: []*pb.Compare{createRevIs(l.Key, l.Rev)},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: l.Key}}}},
	})
	if err != nil {
		return nil, err
	}
	return resp.Header, nil
}

func (s *electionServer) Resign(ctx context.Context, r *epb.ResignRequest) (*epb.ResignResponse, error) {
	if r.Leader == nil {
		return nil, ErrMissingLeaderKey
	}
	h, err := s.resign(ctx, r.Leader)
	if err != nil {
		return nil, err
	}
	return &epb.ResignResponse{Header: h}, nil
}

func (s *electionServer) leader(ctx context.Context, name []byte) (*pb.RangeResponse, error) {
	return kvFor(s.n).Range(ctx, firstCreate(append(append([]byte(nil), name...), '/')))
}

func (s *electionServer) Leader(ctx context.Context, r *epb.LeaderRequest) (*epb.LeaderResponse, error) {
	resp, err := s.leader(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrElectionNoLeader
	}
	return &epb.LeaderResponse{Header: resp.Header, Kv: resp.Kvs[0]}, nil
}

// Observe streams the leader's value: the current one, each proclamation, and each new
// leader once the old one is gone (clientv3's Election.Observe).
func (s *electionServer) Observe(r *epb.LeaderRequest, stream epb.Election_ObserveServer) error {
	ctx := stream.Context()
	pfx := append(append([]byte(nil), r.Name...), '/')
	send := func(rev int64, k *mvccpb.KeyValue) error {
		return stream.Send(&epb.LeaderResponse{Header: pbconv.ResponseHeader(s.n.Header(), rev), Kv: k})
	}
	for {
		resp, err := s.leader(ctx, r.Name)
		if err != nil {
			return err
		}
		var cur *mvccpb.KeyValue
		rev := resp.Header.Revision
		if len(resp.Kvs) > 0 {
			cur = resp.Kvs[0]
		} else {
			// Wait for the first put under the prefix.
			err := watchRange(ctx, s.n, pfx, kv.PrefixEnd(pfx), rev, func(ev kv.Event) bool {
				if ev.Type == kv.PUT {
					k := ev.Kv
					cur, rev = &mvccpb.KeyValue{Key: k.Key, CreateRevision: k.CreateRevision, ModRevision: k.ModRevision,
						Version: k.Version, Value: k.Value, Lease: k.Lease}, k.ModRevision
					return true
				}
				return false
			})
			if err != nil {
				return err
			}
		}
		if err := send(rev, cur); err != nil {
			return err
		}
		// Follow this leader's key: every put is a proclamation, a delete ends its term.
		var sendErr error
		err = watchKey(ctx, s.n, cur.Key, rev+1, func(ev kv.Event) bool {
			if ev.Type == kv.DELETE {
				return true
			}
			k := ev.Kv
			sendErr = send(k.ModRevision, &mvccpb.KeyValue{Key: k.Key, CreateRevision: k.CreateRevision,
				ModRevision: k.ModRevision, Version: k.Version, Value: k.Value, Lease: k.Lease})
			return sendErr != nil
		})
		if sendErr != nil {
			return sendErr
		}
		if err != nil {
			return err
		}
	}
}
