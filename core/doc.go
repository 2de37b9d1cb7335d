// Package core is etcd's v3 state machine in plain Go: the KV, Lease, Watch and maintenance
// operations with etcd's request semantics, validation and errors, over the MVCC store
// (core/mvcc) and the lessor (core/lease). It imports no gRPC, protobuf, HTTP or OS
// facilities, so the same code runs in the native server (which translates etcd's protobuf
// messages at its edge), under Raft, in tests on a manual clock, and in a browser as wasm.
//
// Usage:
//
//	s, _ := core.New(core.Config{})
//	defer s.Close()
//	s.Put(&core.PutRequest{Key: []byte("a"), Value: []byte("1")})   // revision 2
//	r, _ := s.Range(&core.RangeRequest{Key: []byte("a")})             // r.Kvs[0].Value == "1"
//
// Requests use etcd's conventions: a RangeEnd of "\x00" means every key from Key on, an
// empty RangeEnd means Key alone. Errors carry etcd's texts; Status maps them to the gRPC
// code and message etcd would send.
//
// Write operations are applied one at a time, so an operation made of several steps (a
// lease revocation deleting its keys, a put checking its lease) is atomic. Lease expiry is
// not decided here: ExpiredLeases says which leases are due, and the caller revokes them
// (under Raft, the leader proposes the revocations).
package core
