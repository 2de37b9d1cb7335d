package v3rpc

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
)

// TestRecoverInterceptors: a handler that panics answers Internal instead of killing the
// server.
func TestRecoverInterceptors(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err := recoverUnary(log)(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/Y"},
		func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("unary panic: %v", err)
	}
	err = recoverStream(log)(nil, nil, &grpc.StreamServerInfo{FullMethod: "/x/Z"},
		func(any, grpc.ServerStream) error { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("stream panic: %v", err)
	}
}

// TestErrorInterceptor: core errors leave as etcd's status errors.
func TestErrorInterceptor(t *testing.T) {
	_, err := errorsUnary(context.Background(), nil, &grpc.UnaryServerInfo{},
		func(context.Context, any) (any, error) { return nil, core.ErrCompacted })
	if s := status.Convert(err); s.Code() != codes.OutOfRange || s.Message() != "etcdserver: mvcc: required revision has been compacted" {
		t.Fatalf("got %v", err)
	}
}
