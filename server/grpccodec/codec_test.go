package grpccodec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	protov2 "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// messages covers small and pooled (large) messages, nested and repeated fields, and a
// message of gRPC's health service, which is not gogoproto's.
func messages() map[string]any {
	big := strings.Repeat("v", 64<<10)
	return map[string]any{
		"empty range":  &pb.RangeRequest{},
		"range":        &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("b"), Limit: 10, Revision: 3, Serializable: true},
		"put":          &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 7, PrevKv: true},
		"big response": &pb.RangeResponse{Header: &pb.ResponseHeader{ClusterId: 1, MemberId: 2, Revision: 3, RaftTerm: 4}, Kvs: []*mvccpb.KeyValue{{Key: []byte("k"), Value: []byte(big), CreateRevision: 1, ModRevision: 2, Version: 1}, {Key: []byte("l")}}, Count: 2, More: true},
		"txn": &pb.TxnRequest{
			Compare: []*pb.Compare{{Key: []byte("k"), Target: pb.Compare_MOD, TargetUnion: &pb.Compare_ModRevision{ModRevision: 0}}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("k")}}}},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("k")}}}},
		},
		"watch":  &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte("k"), Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}}}},
		"health": &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING},
	}
}

// TestMarshalSameBytes: every message encodes to exactly what gRPC's own codec sends, and
// decodes back to what gRPC's codec decodes.
func TestMarshalSameBytes(t *testing.T) {
	ours, theirs := New(), encoding.GetCodecV2(proto.Name)
	for name, m := range messages() {
		t.Run(name, func(t *testing.T) {
			got, err := ours.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Free()
			want, err := theirs.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Free()
			if !bytes.Equal(got.Materialize(), want.Materialize()) {
				t.Fatalf("encoding differs from gRPC's codec:\n got %x\nwant %x", got.Materialize(), want.Materialize())
			}
			back := newOf(m)
			if err := ours.Unmarshal(got, back); err != nil {
				t.Fatal(err)
			}
			if !protov2.Equal(v2(back), v2(m)) {
				t.Fatalf("decoded %v, want %v", back, m)
			}
		})
	}
}

// TestUnmarshalOwnsItsBytes: the decoded message shares no memory with the buffer it was
// decoded from, which goes back to the pool (and is reused) as soon as Unmarshal returns.
func TestUnmarshalOwnsItsBytes(t *testing.T) {
	c := New()
	in := &pb.PutRequest{Key: []byte("key"), Value: []byte("value")}
	raw, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var out pb.PutRequest
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, &out); err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = 0xff
	}
	if string(out.Key) != "key" || string(out.Value) != "value" {
		t.Fatalf("decoded message changed with its input buffer: key %q value %q", out.Key, out.Value)
	}
}

// TestUnmarshalResets: a message decoded into is replaced, not merged into, as with gRPC's
// codec.
func TestUnmarshalResets(t *testing.T) {
	raw, err := (&pb.PutRequest{Key: []byte("k")}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := &pb.PutRequest{Key: []byte("old"), Value: []byte("old"), Lease: 9}
	if err := New().Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, out); err != nil {
		t.Fatal(err)
	}
	if string(out.Key) != "k" || out.Value != nil || out.Lease != 0 {
		t.Fatalf("got %v, want only key k", out)
	}
}

// FuzzUnmarshal: on any input, the codec agrees with gRPC's codec: both fail, or both decode
// the same message; neither panics.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range messages() {
		// Small seeds only: the fuzzer minimises what it finds, slowly for 64 KiB.
		if g, ok := m.(generated); ok && g.Size() < 1024 {
			b := make([]byte, g.Size())
			if _, err := g.MarshalToSizedBuffer(b); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	ours, theirs := New(), encoding.GetCodecV2(proto.Name)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newMsg := range []func() any{
			func() any { return new(pb.TxnRequest) },
			func() any { return new(pb.WatchRequest) },
			func() any { return new(pb.RangeResponse) },
		} {
			a, b := newMsg(), newMsg()
			errA := ours.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(data))}, a)
			errB := theirs.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(data))}, b)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("%T: ours %v, gRPC's %v", a, errA, errB)
			}
			if errA == nil && !protov2.Equal(v2(a), v2(b)) {
				t.Fatalf("%T: ours %v, gRPC's %v", a, a, b)
			}
		}
	})
}

func newOf(m any) any { return reflect.New(reflect.TypeOf(m).Elem()).Interface() }

// v2 views any message through protobuf-go's API, for Equal.
func v2(m any) protov2.Message {
	if v, ok := m.(protoadapt.MessageV2); ok {
		return v
	}
	return protoadapt.MessageV2Of(m.(protoadapt.MessageV1))
}
