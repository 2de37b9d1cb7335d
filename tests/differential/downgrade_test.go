//go:build !js

package differential

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testserver"
)

// TestDifferentialDowngrade: Maintenance.Downgrade answers as etcd 3.6 does for every request
// etcd refuses or answers without downgrading (a malformed version, a target other than the
// previous minor, a cancel with nothing in progress, an unknown action), code and message
// or the cluster version and a header. The one deliberate difference: etcd allows 3.5, the
// previous minor, and MetaStore refuses it too (it has no older release to run at).
func TestDifferentialDowngrade(t *testing.T) {
	etcd := etcdoracle.Start(t)
	_, addr := testserver.Start(t, testserver.Options{})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sides := []pb.MaintenanceClient{pb.NewMaintenanceClient(etcd.Conn), pb.NewMaintenanceClient(conn)}
	ask := func(c pb.MaintenanceClient, r *pb.DowngradeRequest) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.Downgrade(ctx, r)
		if err != nil {
			st := status.Convert(err)
			return st.Code().String() + " " + st.Message()
		}
		if h := resp.Header; h == nil || h.ClusterId == 0 || h.MemberId == 0 || h.RaftTerm == 0 || h.Revision == 0 {
			return fmt.Sprintf("incomplete header %v", h)
		}
		return "version " + resp.Version
	}
	for _, r := range []*pb.DowngradeRequest{
		{Action: pb.DowngradeRequest_VALIDATE, Version: "abc"},
		{Action: pb.DowngradeRequest_VALIDATE, Version: ""},
		{Action: pb.DowngradeRequest_VALIDATE, Version: "v3.5"},
		{Action: pb.DowngradeRequest_VALIDATE, Version: "3.6"},
		{Action: pb.DowngradeRequest_VALIDATE, Version: "3.4.0"},
		{Action: pb.DowngradeRequest_VALIDATE, Version: "4.0"},
		{Action: pb.DowngradeRequest_ENABLE, Version: "3.6.1"},
		{Action: pb.DowngradeRequest_ENABLE, Version: "3"},
		{Action: pb.DowngradeRequest_CANCEL},
		{Action: pb.DowngradeRequest_CANCEL, Version: "junk"},
		{Action: 7, Version: "3.5"},
	} {
		want, got := ask(sides[0], r), ask(sides[1], r)
		if want != got {
			t.Errorf("%v:\netcd:      %s\nmetastore: %s", r, want, got)
		}
	}
	// The previous minor: etcd would start the downgrade (it is only validated here); MetaStore
	// refuses it as it refuses any other target.
	for _, a := range []pb.DowngradeRequest_DowngradeAction{pb.DowngradeRequest_VALIDATE, pb.DowngradeRequest_ENABLE} {
		r := &pb.DowngradeRequest{Action: a, Version: "3.5"}
		if got := ask(sides[1], r); got != "InvalidArgument etcdserver: invalid downgrade target version" {
			t.Errorf("%v: %s", r, got)
		}
	}
	if got := ask(sides[0], &pb.DowngradeRequest{Action: pb.DowngradeRequest_VALIDATE, Version: "3.5"}); got != "version 3.6" {
		t.Errorf("etcd validates a downgrade to 3.5 with %q: the test's premise changed", got)
	}
}
