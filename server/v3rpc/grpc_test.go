package v3rpc

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
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

// TestCheckMetadata: etcd's checks on request metadata. (grpc-go clients cannot even send a
// non-ASCII header, so this is checked here rather than end to end.)
func TestCheckMetadata(t *testing.T) {
	tests := []struct {
		md        metadata.MD
		hasLeader bool
		wcode     codes.Code
		wmsg      string
	}{
		{metadata.Pairs("client-api-version", "3.6"), true, codes.OK, ""},
		{metadata.Pairs("client-api-version", "\xff"), true, codes.InvalidArgument, "etcdserver: invalid client api version"},
		{metadata.Pairs("hasleader", "true"), true, codes.OK, ""},
		{metadata.Pairs("hasleader", "true"), false, codes.Unavailable, "etcdserver: no leader"},
		{metadata.Pairs("hasleader", "false"), false, codes.OK, ""},
		{nil, false, codes.OK, ""},
	}
	for _, tt := range tests {
		ctx := context.Background()
		if tt.md != nil {
			ctx = metadata.NewIncomingContext(ctx, tt.md)
		}
		err := pbconv.Error(checkMetadata(ctx, func() bool { return tt.hasLeader }))
		if s := status.Convert(err); s.Code() != tt.wcode || (err != nil && s.Message() != tt.wmsg) {
			t.Errorf("%v leader=%v: got %v", tt.md, tt.hasLeader, err)
		}
	}
}
