// Command lease registers a service under a lease (service discovery): the key lives while
// the process keeps the lease alive, and disappears by itself when it stops.
//
//	go run ./examples/lease --endpoints localhost:2379
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/examples/internal/example"
)

func main() { example.Main(run) }

func run(ctx context.Context, cli *clientv3.Client, w io.Writer) error {
	// A few seconds: the client renews every TTL/3, so a short TTL leaves little slack for a
	// slow network or a busy machine (etcd grants no less than 2 s).
	const ttl = 6
	l, err := cli.Grant(ctx, ttl)
	if err != nil {
		return err
	}
	if _, err := cli.Put(ctx, "services/api/instance-1", "10.0.0.1:8080", clientv3.WithLease(l.ID)); err != nil {
		return err
	}
	fmt.Fprintf(w, "registered with lease %x (TTL %ds)\n", l.ID, l.TTL)
	kctx, stop := context.WithCancel(ctx)
	ka, err := cli.KeepAlive(kctx, l.ID)
	if err != nil {
		stop()
		return err
	}
	const wait = ttl + 1
	time.Sleep(wait * time.Second) // longer than the TTL: the keep-alives hold it
	g, err := cli.Get(ctx, "services/api/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		stop()
		return err
	}
	fmt.Fprintf(w, "after %ds with keep-alives: %d instance(s)\n", wait, g.Count)
	stop() // the process "dies": no more keep-alives
	for range ka {
	}
	for {
		g, err := cli.Get(ctx, "services/api/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		if g.Count == 0 {
			fmt.Fprintln(w, "lease expired: instance deregistered")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
