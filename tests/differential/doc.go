// Package differential compares MetaStore with a real etcd, started in-process, on the same
// random operations, response by response and watch event by watch event (the core, and a
// server over gRPC), on the JSON gateway, and, between a 3-member etcd and a 3-member
// MetaStore, on the Cluster API and MoveLeader request by request.
package differential
