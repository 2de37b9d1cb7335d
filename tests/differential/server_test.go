//go:build !js

package differential

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/metastore/metastore/server"
	"github.com/metastore/metastore/server/node"
)

// TestDifferentialServer runs the same random operations through a metastore server over
// gRPC — the Raft log, the apply path, the services and the error edge — against etcd.
func TestDifferentialServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv, err := server.Start(server.Config{
		Config: node.Config{
			Name: "diff", DataDir: t.TempDir(), SnapshotCount: 2000,
			PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://" + addr},
		},
		ListenClientURLs: []string{"http://" + addr},
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	runDifferential(t, grpcTarget(conn), srv.Node().Store(), func(reqs []*pb.WatchCreateRequest) *watchLog {
		return startGRPCWatches(t, context.Background(), pb.NewWatchClient(conn), reqs)
	})
}
