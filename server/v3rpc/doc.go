// Package v3rpc serves etcd's v3 gRPC services (KV, Watch, Lease, Maintenance, Cluster and
// health) over a node. Each handler validates nothing itself (the core does), calls the node,
// and turns errors into etcd's status errors in one place (pbconv.Error).
package v3rpc
