//go:build !js

// Package etcdoracle starts a real etcd in-process (go.etcd.io/etcd/server/v3/embed) for tests
// that compare MetaStore with etcd. It is for tests only: nothing in the product imports it.
package etcdoracle

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Etcd is a running embedded etcd.
type Etcd struct {
	Endpoint string // host:port of the client URL
	Conn     *grpc.ClientConn
	e        *embed.Etcd
}

// Start starts a single-member etcd on 127.0.0.1 in a fresh temporary directory, with fsync
// off (the tests compare semantics, not durability). It is stopped when the test ends.
func Start(t testing.TB) *Etcd {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "oracle"
	cfg.LogLevel = "fatal"
	cfg.UnsafeNoFsync = true
	cu, pu := freeURL(t), freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, pu.String())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("etcdoracle: start etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		t.Fatal("etcdoracle: etcd not ready after 30s")
	}
	conn, err := grpc.NewClient(cu.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.Close()
		t.Fatalf("etcdoracle: dial: %v", err)
	}
	o := &Etcd{Endpoint: cu.Host, Conn: conn, e: e}
	t.Cleanup(func() {
		conn.Close()
		e.Close()
	})
	return o
}

func freeURL(t testing.TB) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdoracle: %v", err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
