//go:build !js

// Package testserver starts a real MetaStore member in-process for tests: its own data dir,
// a free port on 127.0.0.1, stopped when the test ends.
package testserver

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/server"
	"github.com/metastore/metastore/server/node"
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
	cfg.ClientURLs = []string{"http://" + addr}
	s, err := server.Start(server.Config{
		Config:           cfg,
		ListenClientURLs: []string{"http://" + addr},
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
