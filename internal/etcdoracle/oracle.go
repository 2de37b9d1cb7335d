//go:build !js

// Package etcdoracle starts a real etcd in-process (go.etcd.io/etcd/server/v3/embed) for tests
// that compare MetaStore with etcd. It is for tests only: nothing in the product imports it.
package etcdoracle

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
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
	// Name, ID and PeerURL identify the member (in a cluster, for tests that address members
	// by role).
	Name    string
	ID      uint64
	PeerURL string
	e       *embed.Etcd
}

// Start starts a single-member etcd on 127.0.0.1 in a fresh temporary directory, with fsync
// off (the tests compare semantics, not durability). It is stopped when the test ends.
func Start(t testing.TB) *Etcd { return StartWith(t, nil) }

// StartWith is Start with the configuration adjusted by configure (e.g. a bcrypt cost).
func StartWith(t testing.TB, configure func(*embed.Config)) *Etcd {
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
	if configure != nil {
		configure(cfg)
	}
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
	o := &Etcd{Endpoint: cu.Host, Conn: conn, Name: cfg.Name, ID: uint64(e.Server.MemberID()), PeerURL: pu.String(), e: e}
	t.Cleanup(func() {
		conn.Close()
		e.Close()
	})
	return o
}

// StartCluster starts an n-member etcd cluster in-process (members m0…m(n-1), default
// settings: strict reconfiguration checks, at most one learner), all on 127.0.0.1 with fsync
// off, and returns once every member is ready. It is stopped when the test ends.
func StartCluster(t testing.TB, n int) []*Etcd {
	t.Helper()
	urls := freeURLs(t, 2*n)
	cfgs := make([]*embed.Config, n)
	var initial []string
	for i := range cfgs {
		cfg := embed.NewConfig()
		cfg.Dir = t.TempDir()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.LogLevel = "fatal"
		cfg.UnsafeNoFsync = true
		cu, pu := urls[2*i], urls[2*i+1]
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.InitialClusterToken = "etcdoracle-cluster"
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfgs[i] = cfg
		initial = append(initial, cfg.Name+"="+pu.String())
	}
	// Each member waits for the others: start them together.
	es := make([]*embed.Etcd, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		cfg.InitialCluster = strings.Join(initial, ",")
		wg.Add(1)
		go func() {
			defer wg.Done()
			es[i], errs[i] = embed.StartEtcd(cfg)
		}()
	}
	wg.Wait()
	out := make([]*Etcd, 0, n)
	t.Cleanup(func() {
		for _, o := range out {
			o.Conn.Close()
		}
		// Stop the servers before closing them: Close would have the leader hand its
		// leadership over first, to members closing too, and wait for that to time out.
		for _, stop := range []func(*embed.Etcd){
			func(e *embed.Etcd) { e.Server.HardStop() },
			(*embed.Etcd).Close,
		} {
			var wg sync.WaitGroup
			for _, e := range es {
				if e != nil {
					wg.Add(1)
					go func() { defer wg.Done(); stop(e) }()
				}
			}
			wg.Wait()
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("etcdoracle: start etcd %s: %v", cfgs[i].Name, err)
		}
	}
	deadline := time.After(60 * time.Second)
	for i, e := range es {
		select {
		case <-e.Server.ReadyNotify():
		case <-deadline:
			t.Fatalf("etcdoracle: etcd %s not ready after 60s", cfgs[i].Name)
		}
	}
	for i, e := range es {
		cu := urls[2*i]
		conn, err := grpc.NewClient(cu.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatalf("etcdoracle: dial: %v", err)
		}
		out = append(out, &Etcd{Endpoint: cu.Host, Conn: conn, Name: cfgs[i].Name, ID: uint64(e.Server.MemberID()),
			PeerURL: urls[2*i+1].String(), e: e})
	}
	return out
}

// HardStop stops the member's Raft and peer transport at once (EtcdServer.HardStop); its
// client port stays open, as a member whose process hangs. The test's cleanup closes it.
func (e *Etcd) HardStop() { e.e.Server.HardStop() }

// freeURLs returns n distinct free http://127.0.0.1 URLs (all held open while picked, so no
// two are the same port).
func freeURLs(t testing.TB, n int) []url.URL {
	var out []url.URL
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("etcdoracle: %v", err)
		}
		defer l.Close()
		out = append(out, url.URL{Scheme: "http", Host: l.Addr().String()})
	}
	return out
}

func freeURL(t testing.TB) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdoracle: %v", err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
