// Command kv puts, gets and lists keys with clientv3: the basics.
//
//	go run ./examples/kv --endpoints localhost:2379
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
	for _, k := range []string{"config/db/host", "config/db/port", "config/cache/ttl"} {
		if _, err := cli.Put(ctx, k, "value-of-"+k); err != nil {
			return err
		}
	}
	g, err := cli.Get(ctx, "config/db/host")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "get: %s = %s (revision %d)\n", g.Kvs[0].Key, g.Kvs[0].Value, g.Header.Revision)
	all, err := cli.Get(ctx, "config/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return err
	}
	for _, kv := range all.Kvs {
		fmt.Fprintf(w, "range: %s\n", kv.Key)
	}
	d, err := cli.Delete(ctx, "config/db/", clientv3.WithPrefix())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "deleted %d keys\n", d.Deleted)
	return nil
}
