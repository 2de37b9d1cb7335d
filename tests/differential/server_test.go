//go:build !js

package differential

import (
	"context"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/node"
)

// TestDifferentialServer runs the same random operations through a metastore server over
// gRPC — the Raft log, the apply path, the services and the error edge — against etcd.
func TestDifferentialServer(t *testing.T) {
	srv, addr := testserver.Start(t, testserver.Options{Node: node.Config{SnapshotCount: 2000}})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	runDifferential(t, grpcTarget(conn), true, srv.Node().Store(), func(reqs []*pb.WatchCreateRequest) *watchLog {
		return startGRPCWatches(t, context.Background(), "metastore", pb.NewWatchClient(conn), reqs)
	})
}
