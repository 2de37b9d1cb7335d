package v3rpc

import (
	"context"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	lpb "go.etcd.io/etcd/server/v3/etcdserver/api/v3lock/v3lockpb"

	"github.com/metastore/metastore/server/node"
)

type lockServer struct {
	lpb.UnimplementedLockServer
	n *node.Node
}

// Lock is clientv3's Mutex.Lock: take a place in line under the name, wait until everyone
// ahead has gone, and answer with the key that holds the lock (tied to the lease).
func (s *lockServer) Lock(ctx context.Context, r *lpb.LockRequest) (*lpb.LockResponse, error) {
	pfx := append(append([]byte(nil), r.Name...), '/')
	key := []byte(fmt.Sprintf("%s%x", pfx, r.Lease))
	rev, resp, err := acquire(ctx, s.n, key, nil, r.Lease, firstCreate(pfx))
	if err != nil {
		return nil, err
	}
	if owner := resp.Responses[1].GetResponseRange().Kvs; len(owner) == 0 || owner[0].CreateRevision == rev {
		return &lpb.LockResponse{Header: resp.Header, Key: key}, nil
	}
	if _, err := waitDeletes(ctx, s.n, pfx, rev-1); err != nil {
		kvFor(s.n).DeleteRange(context.Background(), &pb.DeleteRangeRequest{Key: key})
		return nil, err
	}
	// The lease may have expired while waiting, taking the key with it.
	g, err := kvFor(s.n).Range(ctx, &pb.RangeRequest{Key: key})
	if err != nil {
		return nil, err
	}
	if len(g.Kvs) == 0 {
		return nil, ErrSessionExpired
	}
	return &lpb.LockResponse{Header: g.Header, Key: key}, nil
}

func (s *lockServer) Unlock(ctx context.Context, r *lpb.UnlockRequest) (*lpb.UnlockResponse, error) {
	resp, err := kvFor(s.n).DeleteRange(ctx, &pb.DeleteRangeRequest{Key: r.Key})
	if err != nil {
		return nil, err
	}
	return &lpb.UnlockResponse{Header: resp.Header}, nil
}
