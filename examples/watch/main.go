// Command watch follows a prefix: it prints the changes a writer makes, with each key's
// previous value, then resumes from a past revision to replay history.
//
//	go run ./examples/watch --endpoints localhost:2379
package main

import (
	"context"
	"fmt"
	"io"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/examples/internal/example"
)

func main() { example.Main(run) }

func run(ctx context.Context, cli *clientv3.Client, w io.Writer) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watch from the revision after the current one: whatever happens from now on is
	// delivered, even if the writes below reach the server before the watch does.
	g, err := cli.Get(ctx, "jobs/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	wch := cli.Watch(wctx, "jobs/", clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(g.Header.Revision+1))
	first := int64(0)
	go func() {
		cli.Put(ctx, "jobs/1", "queued")
		cli.Put(ctx, "jobs/1", "running")
		cli.Delete(ctx, "jobs/1")
	}()
	seen := 0
	for seen < 3 {
		resp, ok := <-wch
		if !ok {
			return fmt.Errorf("watch closed: %v", ctx.Err())
		}
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if first == 0 {
				first = ev.Kv.ModRevision
			}
			prev := ""
			if ev.PrevKv != nil {
				prev = " (was " + string(ev.PrevKv.Value) + ")"
			}
			fmt.Fprintf(w, "%s %s %q%s at revision %d\n", ev.Type, ev.Kv.Key, ev.Kv.Value, prev, ev.Kv.ModRevision)
			seen++
		}
	}
	// Replay: a watch from a past revision delivers history first.
	replay := cli.Watch(wctx, "jobs/", clientv3.WithPrefix(), clientv3.WithRev(first))
	resp := <-replay
	fmt.Fprintf(w, "replayed %d events from revision %d\n", len(resp.Events), first)
	return resp.Err()
}
