// Command txn increments a counter safely with compare-and-swap: read it, then write the
// new value only if nobody changed it in between (its mod revision is the one read), and
// retry otherwise.
//
//	go run ./examples/txn --endpoints localhost:2379
package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/examples/internal/example"
)

func main() { example.Main(run) }

// increment adds one to the counter at key, retrying when another writer got there first.
func increment(ctx context.Context, cli *clientv3.Client, key string) (retries int, err error) {
	for {
		g, err := cli.Get(ctx, key)
		if err != nil {
			return retries, err
		}
		n, rev := 0, int64(0)
		if len(g.Kvs) > 0 {
			n, _ = strconv.Atoi(string(g.Kvs[0].Value))
			rev = g.Kvs[0].ModRevision
		}
		t, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, strconv.Itoa(n+1))).
			Commit()
		if err != nil {
			return retries, err
		}
		if t.Succeeded {
			return retries, nil
		}
		retries++
	}
}

func run(ctx context.Context, cli *clientv3.Client, w io.Writer) error {
	const workers, each = 5, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	total, firstErr := 0, error(nil)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				r, err := increment(ctx, cli, "counter")
				mu.Lock()
				total += r
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	g, err := cli.Get(ctx, "counter")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "counter = %s after %d increments by %d writers (%d retries)\n", g.Kvs[0].Value, workers*each, workers, total)
	return nil
}
