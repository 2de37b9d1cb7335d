// Package pbconv translates between etcd's protobuf messages (go.etcd.io/etcd/api/v3) and the
// core's plain Go types, and turns core errors into etcd's gRPC status errors. It is the one
// edge where the core meets etcd's wire types; the core itself never imports them.
package pbconv
