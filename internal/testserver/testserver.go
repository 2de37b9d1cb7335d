//go:build !js

// Package testserver starts a real MetaStore member in-process for tests: its own data dir,
// a free port on 127.0.0.1, stopped when the test ends.
package testserver

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/server"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/tlsutil"
)

// Options tune the member.
type Options struct {
	CORS grpcweb.Origins
	// UI serves the other paths of the client port.
	UI http.Handler
	// Node overrides node settings (DataDir and URLs are filled in).
	Node node.Config
	// Addr and DataDir, if set, reuse an address and a data dir (to restart a member).
	Addr, DataDir string
	// TLS, if set, serves the client URL as https:// with these certificates.
	TLS *tlsutil.Info
}

// Start runs a member and returns it with its host:port.
func Start(t testing.TB, opts Options) (*server.Server, string) {
	t.Helper()
	addr := opts.Addr
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	cfg := opts.Node
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	cfg.DataDir = opts.DataDir
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.PeerURLs = []string{"http://127.0.0.1:2380"}
	scheme := "http://"
	if opts.TLS != nil {
		scheme = "https://"
	}
	cfg.ClientURLs = []string{scheme + addr}
	s, err := server.Start(server.Config{
		Config:           cfg,
		ListenClientURLs: []string{scheme + addr},
		ClientTLS:        opts.TLS,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		CORS:             opts.CORS,
		UI:               opts.UI,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	select {
	case <-s.ReadyNotify():
	case <-time.After(60 * time.Second):
		t.Fatal("the member did not become ready within 60s")
	}
	return s, addr
}

// Member is one member of a cluster StartCluster started.
type Member struct {
	*server.Server
	Addr    string // client host:port
	Name    string
	ID      uint64
	PeerURL string
}

// StartCluster runs an n-member cluster in-process (members m0…m(n-1) on free 127.0.0.1
// ports, strict reconfiguration checks on) and returns once every member is ready; they are
// stopped when the test ends. opts.Node overrides node settings as in Start (name, data dir,
// URLs and the initial cluster are filled in), opts.CORS lets those pages in; opts' other
// fields are not used.
func StartCluster(t testing.TB, n int, opts Options) []*Member {
	t.Helper()
	addrs := freeAddrs(t, 2*n)
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("m%d=http://%s", i, addrs[2*i+1]))
	}
	ms := make([]*Member, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	// Each member waits for a quorum of the others: start them together.
	for i := range n {
		cfg := opts.Node
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.DataDir = t.TempDir()
		client, peer := "http://"+addrs[2*i], "http://"+addrs[2*i+1]
		cfg.PeerURLs, cfg.ClientURLs = []string{peer}, []string{client}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterState = "new"
		cfg.StrictReconfigCheck = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := server.Start(server.Config{
				Config:           cfg,
				ListenClientURLs: []string{client},
				ListenPeerURLs:   []string{peer},
				Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
				CORS:             opts.CORS,
			})
			if err != nil {
				errs[i] = fmt.Errorf("start %s: %w", cfg.Name, err)
				return
			}
			ms[i] = &Member{Server: s, Addr: addrs[2*i], Name: cfg.Name, ID: s.Node().MemberID(), PeerURL: peer}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, m := range ms {
			if m != nil {
				wg.Add(1)
				go func() { defer wg.Done(); m.Stop() }()
			}
		}
		wg.Wait()
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(60 * time.Second)
	for _, m := range ms {
		select {
		case <-m.ReadyNotify():
		case <-deadline:
			t.Fatalf("member %s not ready within 60s", m.Name)
		}
	}
	return ms
}

// freeAddrs returns n distinct free 127.0.0.1 host:ports.
func freeAddrs(t testing.TB, n int) []string {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}
