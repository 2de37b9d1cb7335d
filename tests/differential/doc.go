// Package differential compares MetaStore's core with a real etcd, started in-process, on
// the same random operations, response by response and watch event by watch event.
package differential
