// Command lock serialises a critical section across workers with a distributed mutex
// (clientv3's concurrency.Mutex): each worker appends to a shared log only while holding the
// lock, so no entry is lost.
//
//	go run ./examples/lock --endpoints localhost:2379
package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/metastore/metastore/examples/internal/example"
)

func main() { example.Main(run) }

func run(ctx context.Context, cli *clientv3.Client, w io.Writer) error {
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			m := concurrency.NewMutex(s, "/locks/log")
			if err := m.Lock(ctx); err != nil {
				errs <- err
				return
			}
			defer m.Unlock(ctx)
			// Read-modify-write without a txn: safe only because of the lock.
			g, err := cli.Get(ctx, "shared/log")
			if err != nil {
				errs <- err
				return
			}
			cur := ""
			if len(g.Kvs) > 0 {
				cur = string(g.Kvs[0].Value)
			}
			if _, err := cli.Put(ctx, "shared/log", cur+fmt.Sprintf("[worker %d]", i)); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	g, err := cli.Get(ctx, "shared/log")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "log: %s\n", g.Kvs[0].Value)
	return nil
}
