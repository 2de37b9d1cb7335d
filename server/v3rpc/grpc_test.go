package v3rpc

import (
	"context"
	"io"
	"log/slog"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/pbconv"
)

// testEdge is the interceptor with a member that has a leader and is no learner (unless
// set).
func testEdge(learner bool) *edge {
	return &edge{log: slog.New(slog.NewTextHandler(io.Discard, nil)), hasLeader: func() bool { return true }, isLearner: func() bool { return learner }}
}

// TestEdgeRecovers: a handler that panics answers Internal instead of killing the server.
func TestEdgeRecovers(t *testing.T) {
	e := testEdge(false)
	_, err := e.unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/Y"},
		func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("unary panic: %v", err)
	}
	err = e.stream(nil, fakeStream{context.Background()}, &grpc.StreamServerInfo{FullMethod: "/x/Z"},
		func(any, grpc.ServerStream) error { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Fatalf("stream panic: %v", err)
	}
}

// TestEdgeErrors: core errors leave as etcd's status errors, from the handler and from the
// interceptor's own refusals (a learner's, before the handler runs), on calls and streams.
func TestEdgeErrors(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("token", "tok"))
	_, err := testEdge(false).unary(ctx, nil, &grpc.UnaryServerInfo{},
		func(context.Context, any) (any, error) { return nil, core.ErrCompacted })
	if s := status.Convert(err); s.Code() != codes.OutOfRange || s.Message() != "etcdserver: mvcc: required revision has been compacted" {
		t.Fatalf("got %v", err)
	}
	err = testEdge(false).stream(nil, fakeStream{ctx}, &grpc.StreamServerInfo{},
		func(any, grpc.ServerStream) error { return core.ErrCompacted })
	if s := status.Convert(err); s.Code() != codes.OutOfRange {
		t.Fatalf("stream: got %v", err)
	}
	called := false
	_, err = testEdge(true).unary(ctx, &pb.PutRequest{}, &grpc.UnaryServerInfo{FullMethod: "/etcdserverpb.KV/Put"},
		func(context.Context, any) (any, error) { called = true; return nil, nil })
	if s := status.Convert(err); called || s.Code() != codes.FailedPrecondition || s.Message() != "etcdserver: rpc not supported for learner" {
		t.Fatalf("a put on a learner: called %v, %v", called, err)
	}
	err = testEdge(true).stream(nil, fakeStream{ctx}, &grpc.StreamServerInfo{FullMethod: "/etcdserverpb.Watch/Watch"},
		func(any, grpc.ServerStream) error { called = true; return nil })
	if s := status.Convert(err); called || s.Code() != codes.FailedPrecondition {
		t.Fatalf("a watch on a learner: called %v, %v", called, err)
	}
}

type fakeStream struct{ ctx context.Context }

func (f fakeStream) Context() context.Context   { return f.ctx }
func (fakeStream) SetHeader(metadata.MD) error  { return nil }
func (fakeStream) SendHeader(metadata.MD) error { return nil }
func (fakeStream) SetTrailer(metadata.MD)       {}
func (fakeStream) SendMsg(any) error            { return nil }
func (fakeStream) RecvMsg(any) error            { return nil }

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
		// Read in gRPC's transport (the tap), and from the context (calls through ServeHTTP).
		tapped, err := tapHeaders(context.Background(), &tap.Info{Header: tt.md})
		if err != nil {
			t.Fatal(err)
		}
		for path, ctx := range map[string]context.Context{"tap": tapped, "context": metadata.NewIncomingContext(context.Background(), tt.md)} {
			err := pbconv.Error(checkMetadata(headersOf(ctx), func() bool { return tt.hasLeader }))
			if s := status.Convert(err); s.Code() != tt.wcode || (err != nil && s.Message() != tt.wmsg) {
				t.Errorf("%s: %v leader=%v: got %v", path, tt.md, tt.hasLeader, err)
			}
		}
	}
}
