// Package grpccodec is the client gRPC server's message codec. etcd's messages
// (go.etcd.io/etcd/api/v3) are gogoproto-generated: each has its own Size, Marshal and
// Unmarshal methods. gRPC's protobuf codec reaches them only through protobuf-go's legacy
// wrapper, which has no size method for them, so it marshals every message twice (once to
// learn its size, once to keep) and allocates a reflection wrapper per message. This codec
// calls the generated methods directly: one Size, one marshal into a buffer of that size
// (pooled when large, as gRPC's codec does). The bytes on the wire are the same: the wrapper
// calls the same methods. Messages that are not gogoproto's (the health service's) go to
// gRPC's codec.
package grpccodec

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Name is the codec's content-subtype, gRPC's default: clients send and expect protobuf.
const Name = proto.Name

// generated is what gogoproto generates for every etcd message.
type generated interface {
	Reset()
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
	Unmarshal([]byte) error
}

// New returns the codec; messages it cannot encode itself go to gRPC's protobuf codec.
func New() encoding.CodecV2 { return codec{fallback: encoding.GetCodecV2(proto.Name)} }

type codec struct{ fallback encoding.CodecV2 }

func (codec) Name() string { return Name }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(generated)
	if !ok {
		return c.fallback.Marshal(v)
	}
	size := m.Size()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if _, err := m.MarshalToSizedBuffer(buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBuffer((*buf)[:size]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal decodes data into v. The generated code copies every bytes and string field out
// of its input, so the input's buffer goes back to the pool at once.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(generated)
	if !ok {
		return c.fallback.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	m.Reset()
	return m.Unmarshal(buf.ReadOnlyData())
}
