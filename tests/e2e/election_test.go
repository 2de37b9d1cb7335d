//go:build !js

package e2e

import (
	"strings"
	"testing"
	"time"

	epb "go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"
	lpb "go.etcd.io/etcd/server/v3/etcdserver/api/v3lock/v3lockpb"
	"google.golang.org/grpc/status"
)

// TestElectionService drives etcd's v3election gRPC service: campaign, leader, proclaim,
// observe, a second campaigner waiting its turn, resign, and the service's error texts.
func TestElectionService(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)
	el := epb.NewElectionClient(c.ActiveConnection())
	l1, _ := c.Grant(cx, 30)
	l2, _ := c.Grant(cx, 30)

	if _, err := el.Leader(cx, &epb.LeaderRequest{Name: []byte("e")}); err == nil || status.Convert(err).Message() != "election: no leader" {
		t.Fatalf("leader of an empty election: %v", err)
	}
	r1, err := el.Campaign(cx, &epb.CampaignRequest{Name: []byte("e"), Lease: int64(l1.ID), Value: []byte("one")})
	if err != nil || !strings.HasPrefix(string(r1.Leader.Key), "e/") || r1.Leader.Rev == 0 {
		t.Fatalf("campaign: %v %v", r1, err)
	}
	obs, err := el.Observe(cx, &epb.LeaderRequest{Name: []byte("e")})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := obs.Recv(); err != nil || string(o.Kv.Value) != "one" {
		t.Fatalf("observe: %v %v", o, err)
	}
	if _, err := el.Proclaim(cx, &epb.ProclaimRequest{Leader: r1.Leader, Value: []byte("uno")}); err != nil {
		t.Fatal(err)
	}
	if o, err := obs.Recv(); err != nil || string(o.Kv.Value) != "uno" {
		t.Fatalf("observe proclamation: %v %v", o, err)
	}
	second := make(chan *epb.CampaignResponse, 1)
	go func() {
		r, err := el.Campaign(cx, &epb.CampaignRequest{Name: []byte("e"), Lease: int64(l2.ID), Value: []byte("two")})
		if err != nil {
			t.Errorf("second campaign: %v", err)
		}
		second <- r
	}()
	select {
	case <-second:
		t.Fatal("second campaigner elected while the first leads")
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := el.Resign(cx, &epb.ResignRequest{Leader: r1.Leader}); err != nil {
		t.Fatal(err)
	}
	r2 := <-second
	if o, err := obs.Recv(); err != nil || string(o.Kv.Value) != "two" {
		t.Fatalf("observe new leader: %v %v", o, err)
	}
	if _, err := el.Proclaim(cx, &epb.ProclaimRequest{Leader: r1.Leader, Value: []byte("x")}); status.Convert(err).Message() != "election: not leader" {
		t.Fatalf("proclaim by a resigned leader: %v", err)
	}
	if _, err := el.Proclaim(cx, &epb.ProclaimRequest{Value: []byte("x")}); status.Convert(err).Message() != `"leader" field must be provided` {
		t.Fatalf("proclaim without leader: %v", err)
	}
	ld, err := el.Leader(cx, &epb.LeaderRequest{Name: []byte("e")})
	if err != nil || string(ld.Kv.Key) != string(r2.Leader.Key) {
		t.Fatalf("leader: %v %v", ld, err)
	}
}

// TestLockService drives etcd's v3lock gRPC service: a second locker waits for Unlock.
func TestLockService(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)
	lk := lpb.NewLockClient(c.ActiveConnection())
	l1, _ := c.Grant(cx, 30)
	l2, _ := c.Grant(cx, 30)
	r1, err := lk.Lock(cx, &lpb.LockRequest{Name: []byte("L"), Lease: int64(l1.ID)})
	if err != nil || !strings.HasPrefix(string(r1.Key), "L/") {
		t.Fatalf("lock: %v %v", r1, err)
	}
	got := make(chan *lpb.LockResponse, 1)
	go func() {
		r, err := lk.Lock(cx, &lpb.LockRequest{Name: []byte("L"), Lease: int64(l2.ID)})
		if err != nil {
			t.Errorf("second lock: %v", err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("second locker got the lock while it was held")
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := lk.Unlock(cx, &lpb.UnlockRequest{Key: r1.Key}); err != nil {
		t.Fatal(err)
	}
	if r2 := <-got; r2 == nil || string(r2.Key) == string(r1.Key) {
		t.Fatalf("second lock: %v", r2)
	}
}
