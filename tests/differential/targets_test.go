//go:build !js

package differential

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
)

// grpcClients is a target over a gRPC connection: etcd, or a metastore server.
type grpcClients struct {
	kv    pb.KVClient
	lease pb.LeaseClient
	maint pb.MaintenanceClient
}

func grpcTarget(conn *grpc.ClientConn) grpcClients {
	return grpcClients{pb.NewKVClient(conn), pb.NewLeaseClient(conn), pb.NewMaintenanceClient(conn)}
}

func (g grpcClients) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	return g.kv.Put(ctx, r)
}
func (g grpcClients) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	return g.kv.DeleteRange(ctx, r)
}
func (g grpcClients) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	return g.kv.Range(ctx, r)
}
func (g grpcClients) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	return g.kv.Txn(ctx, r)
}
func (g grpcClients) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	return g.kv.Compact(ctx, r)
}
func (g grpcClients) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	return g.lease.LeaseGrant(ctx, r)
}
func (g grpcClients) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	return g.lease.LeaseRevoke(ctx, r)
}
func (g grpcClients) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	return g.lease.LeaseTimeToLive(ctx, r)
}
func (g grpcClients) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	return g.lease.LeaseLeases(ctx, r)
}
func (g grpcClients) HashKV(ctx context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	return g.maint.HashKV(ctx, r)
}

// coreTarget is the core in-process, translated with pbconv as the server does; its errors
// become etcd's status errors the same way.
type coreTarget struct{ s *core.Store }

var hdr = &pbconv.Header{}

func conv[R any, P any](r *R, err error, f func(*R, *pbconv.Header) P) (P, error) {
	if err != nil {
		var zero P
		return zero, pbconv.Error(err)
	}
	return f(r, hdr), nil
}

func (c coreTarget) Put(_ context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	resp, err := c.s.Put(pbconv.PutRequest(r))
	return conv(resp, err, pbconv.PutResponse)
}
func (c coreTarget) DeleteRange(_ context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp, err := c.s.DeleteRange(pbconv.DeleteRangeRequest(r))
	return conv(resp, err, pbconv.DeleteRangeResponse)
}
func (c coreTarget) Range(_ context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	resp, err := c.s.Range(pbconv.RangeRequest(r))
	return conv(resp, err, pbconv.RangeResponse)
}
func (c coreTarget) Txn(_ context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	resp, err := c.s.Txn(pbconv.TxnRequest(r))
	return conv(resp, err, pbconv.TxnResponse)
}
func (c coreTarget) Compact(_ context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := c.s.Compact(&core.CompactionRequest{Revision: r.Revision, Physical: r.Physical})
	return conv(resp, err, pbconv.CompactionResponse)
}
func (c coreTarget) LeaseGrant(_ context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	resp, err := c.s.LeaseGrant(&core.LeaseGrantRequest{ID: r.ID, TTL: r.TTL})
	return conv(resp, err, pbconv.LeaseGrantResponse)
}
func (c coreTarget) LeaseRevoke(_ context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	resp, err := c.s.LeaseRevoke(r.ID)
	return conv(resp, err, pbconv.LeaseRevokeResponse)
}
func (c coreTarget) LeaseTimeToLive(_ context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	return pbconv.LeaseTimeToLiveResponse(c.s.LeaseTimeToLive(r.ID, r.Keys), hdr), nil
}
func (c coreTarget) LeaseLeases(context.Context, *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	return pbconv.LeaseLeasesResponse(c.s.LeaseLeases(), hdr), nil
}
func (c coreTarget) HashKV(_ context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	resp, err := c.s.HashKV(r.Revision)
	return conv(resp, err, pbconv.HashKVResponse)
}
