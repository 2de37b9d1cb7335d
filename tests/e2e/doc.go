// Package e2e starts the real metastore binary and drives it with etcd's own clients:
// clientv3 and the etcdctl command line.
package e2e
