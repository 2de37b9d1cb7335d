//go:build !js

package differential

import (
	"context"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testserver"
)

// TestDifferentialWriteWithoutQuorum: a put without a deadline, to a member whose two peers
// stopped and which no longer knows a leader, ends as etcd's does: after the request timeout
// (5 s + 2 × election timeout), with etcd's code and message. (It used to wait forever.)
func TestDifferentialWriteWithoutQuorum(t *testing.T) {
	es := etcdoracle.StartCluster(t, 3)
	ms := testserver.StartCluster(t, 3, testserver.Options{})
	ourConn, err := grpc.NewClient(ms[0].Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ourConn.Close() })
	es[1].HardStop()
	es[2].HardStop()
	ms[1].Node().Stop()
	ms[2].Node().Stop()

	sides := []struct {
		who  string
		conn *grpc.ClientConn
	}{{"etcd", es[0].Conn}, {"metastore", ourConn}}
	got := make([]string, len(sides))
	done := make(chan int, len(sides))
	for i, side := range sides {
		go func() {
			defer func() { done <- i }()
			// Once the member knows no leader: Raft then never takes the proposal.
			deadline := time.Now().Add(30 * time.Second)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				st, err := pb.NewMaintenanceClient(side.conn).Status(ctx, &pb.StatusRequest{})
				cancel()
				if err == nil && st.Leader == 0 {
					break
				}
				if time.Now().After(deadline) {
					got[i] = "still follows a leader after 30s"
					return
				}
				time.Sleep(50 * time.Millisecond) // polling interval
			}
			start := time.Now()
			_, err := pb.NewKVClient(side.conn).Put(context.Background(), &pb.PutRequest{Key: []byte("k"), Value: []byte("v")})
			st := status.Convert(err)
			got[i] = st.Code().String() + " " + st.Message()
			t.Logf("%s: %s after %v", side.who, got[i], time.Since(start).Round(100*time.Millisecond))
		}()
	}
	guard := time.After(90 * time.Second) // against a hang, far beyond both timeouts
	for range sides {
		select {
		case <-done:
		case <-guard:
			t.Fatal("a put has not ended after 90s")
		}
	}
	if got[0] != got[1] {
		t.Fatalf("etcd: %s\nmetastore: %s", got[0], got[1])
	}
}
