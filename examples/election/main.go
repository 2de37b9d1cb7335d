// Command election runs two candidates for leadership with clientv3's concurrency package:
// the first leads; the second takes over when the first resigns.
//
//	go run ./examples/election --endpoints localhost:2379
package main

import (
	"context"
	"fmt"
	"io"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/metastore/metastore/examples/internal/example"
)

func main() { example.Main(run) }

func run(ctx context.Context, cli *clientv3.Client, w io.Writer) error {
	var elections []*concurrency.Election
	for i := 0; i < 2; i++ {
		s, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
		if err != nil {
			return err
		}
		defer s.Close()
		elections = append(elections, concurrency.NewElection(s, "/election/scheduler"))
	}
	if err := elections[0].Campaign(ctx, "node-a"); err != nil {
		return err
	}
	fmt.Fprintln(w, "node-a is leader")
	elected := make(chan error, 1)
	go func() { elected <- elections[1].Campaign(ctx, "node-b") }()
	l, err := elections[0].Leader(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "leader value: %s\n", l.Kvs[0].Value)
	if err := elections[0].Resign(ctx); err != nil {
		return err
	}
	if err := <-elected; err != nil {
		return err
	}
	l, err = elections[1].Leader(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "after node-a resigned, leader value: %s\n", l.Kvs[0].Value)
	return nil
}
