//go:build !js

// Package example holds what every example shares: flags, the client, and a test member.
package example

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/internal/testserver"
)

// Run is an example's body: it talks to the store through cli and prints to w.
type Run func(ctx context.Context, cli *clientv3.Client, w io.Writer) error

// Main parses --endpoints (default localhost:2379, where `make run` listens), connects, and
// runs the example with a time limit.
func Main(run Run) {
	endpoints := flag.String("endpoints", "localhost:2379", "comma-separated endpoints")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, cli, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestRun runs an example against a fresh in-process member and returns what it printed.
func TestRun(t *testing.T, run Run) string {
	t.Helper()
	_, addr := testserver.Start(t, testserver.Options{})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // generous: only a failing example waits it out
	defer cancel()
	var out strings.Builder
	if err := run(ctx, cli, &out); err != nil {
		t.Fatalf("example failed: %v\noutput:\n%s", err, out.String())
	}
	return out.String()
}
