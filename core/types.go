package core

import "github.com/metastore/metastore/core/kv"

// The request and response types mirror etcd's etcdserverpb messages field by field (same
// names, same zero values), so the server translates them mechanically.

// ResponseHeader carries the store revision; the server adds cluster, member and term.
type ResponseHeader struct {
	Revision int64
}

type SortOrder int32

const (
	SortNone    SortOrder = 0
	SortAscend  SortOrder = 1
	SortDescend SortOrder = 2
)

type SortTarget int32

const (
	SortByKey     SortTarget = 0
	SortByVersion SortTarget = 1
	SortByCreate  SortTarget = 2
	SortByMod     SortTarget = 3
	SortByValue   SortTarget = 4
)

type RangeRequest struct {
	Key, RangeEnd     []byte
	Limit             int64
	Revision          int64
	SortOrder         SortOrder
	SortTarget        SortTarget
	Serializable      bool
	KeysOnly          bool
	CountOnly         bool
	MinModRevision    int64
	MaxModRevision    int64
	MinCreateRevision int64
	MaxCreateRevision int64
}

type RangeResponse struct {
	Header ResponseHeader
	// Kvs share byte slices with the store: do not modify them.
	Kvs   []kv.KeyValue
	More  bool
	Count int64
}

type PutRequest struct {
	Key, Value  []byte
	Lease       int64
	PrevKv      bool
	IgnoreValue bool
	IgnoreLease bool
}

type PutResponse struct {
	Header ResponseHeader
	PrevKv *kv.KeyValue
}

type DeleteRangeRequest struct {
	Key, RangeEnd []byte
	PrevKv        bool
}

type DeleteRangeResponse struct {
	Header  ResponseHeader
	Deleted int64
	PrevKvs []kv.KeyValue
}

// RequestOp is one operation of a txn: exactly one field is set. An op with none set is
// invalid ("key not found"), as in etcd.
type RequestOp struct {
	Range       *RangeRequest
	Put         *PutRequest
	DeleteRange *DeleteRangeRequest
	Txn         *TxnRequest
}

// ResponseOp answers a RequestOp: the field matching the request is set.
type ResponseOp struct {
	Range       *RangeResponse
	Put         *PutResponse
	DeleteRange *DeleteRangeResponse
	Txn         *TxnResponse
}

type CompareResult int32

const (
	CompareEqual    CompareResult = 0
	CompareGreater  CompareResult = 1
	CompareLess     CompareResult = 2
	CompareNotEqual CompareResult = 3
)

type CompareTarget int32

const (
	CompareVersion CompareTarget = 0
	CompareCreate  CompareTarget = 1
	CompareMod     CompareTarget = 2
	CompareValue   CompareTarget = 3
	CompareLease   CompareTarget = 4
)

// Compare is one condition of a txn. Only the field matching Target is read; etcd's
// target_union maps onto these fields, and a union that does not match Target leaves the
// read field zero, which is what etcd compares against.
type Compare struct {
	Result         CompareResult
	Target         CompareTarget
	Key            []byte
	RangeEnd       []byte
	Version        int64
	CreateRevision int64
	ModRevision    int64
	Value          []byte
	Lease          int64
}

type TxnRequest struct {
	Compare []Compare
	Success []RequestOp
	Failure []RequestOp
}

type TxnResponse struct {
	Header    ResponseHeader
	Succeeded bool
	Responses []ResponseOp
}

type CompactionRequest struct {
	Revision int64
	Physical bool
}

type CompactionResponse struct {
	Header ResponseHeader
	// PhysicalDone, set when the request asked for Physical, is closed once the backend
	// holds nothing the compaction dropped; whoever answers the client waits for it, not the
	// apply path. Not part of etcd's response.
	PhysicalDone <-chan struct{}
}

type LeaseGrantRequest struct {
	TTL int64
	// ID is the lease ID to use; 0 asks the store to pick one.
	ID int64
}

type LeaseGrantResponse struct {
	Header ResponseHeader
	ID     int64
	TTL    int64
}

// LeaseCheckpoint records a lease's remaining TTL, replicated by the leader so that its
// successor does not hand the lease a fresh full TTL (etcd's lease checkpoints).
type LeaseCheckpoint struct {
	ID           int64
	RemainingTTL int64
}

type LeaseRevokeResponse struct {
	Header ResponseHeader
}

type LeaseKeepAliveResponse struct {
	Header ResponseHeader
	ID     int64
	// TTL is the renewed TTL, or 0 if the lease does not exist (not an error, as in etcd).
	TTL int64
}

type LeaseTimeToLiveResponse struct {
	Header ResponseHeader
	ID     int64
	// TTL is the remaining whole seconds; -1 if the lease does not exist.
	TTL        int64
	GrantedTTL int64
	Keys       [][]byte
}

type LeaseLeasesResponse struct {
	Header ResponseHeader
	Leases []int64
}

type HashKVResponse struct {
	Header          ResponseHeader
	Hash            uint32
	CompactRevision int64
	HashRevision    int64
}
