// Package raftreq is what a member proposes through Raft (one write, of the core's types) and
// its encoding in a log entry; also the lease query a follower forwards to the leader.
//
// The encoding is etcd's InternalRaftRequest wire format (same field numbers, proto3 rules),
// written and read with protowire instead of etcd's generated code: the member then needs
// neither etcdserverpb nor gRPC (which would make a wasm build of it many times larger),
// unknown fields are skipped as protobuf does, and a test checks the bytes against etcd's own
// generated code in both directions.
package raftreq

import "github.com/metastore/metastore/core"

// Request is one proposal: ID, and exactly one of the other fields.
type Request struct {
	// ID pairs the applied entry with the proposer waiting for it (etcd's header.ID).
	ID uint64
	// Username and AuthRevision say who asked, as authenticated when it was proposed
	// (etcd's header.username and header.auth_revision); permissions are checked again when
	// the entry is applied.
	Username     string
	AuthRevision uint64

	Put             *core.PutRequest
	DeleteRange     *core.DeleteRangeRequest
	Txn             *core.TxnRequest
	Compaction      *core.CompactionRequest
	LeaseGrant      *core.LeaseGrantRequest
	LeaseRevoke     *LeaseRevoke
	LeaseCheckpoint *LeaseCheckpoints
	Alarm           *Alarm
	MemberAttrSet   *MemberAttrs
	Auth            *core.AuthRequest
}

type LeaseRevoke struct{ ID int64 }

type LeaseCheckpoints struct{ Checkpoints []core.LeaseCheckpoint }

type AlarmAction int32

const (
	AlarmGet        AlarmAction = 0
	AlarmActivate   AlarmAction = 1
	AlarmDeactivate AlarmAction = 2
)

type AlarmType int32

const (
	AlarmNone    AlarmType = 0
	AlarmNoSpace AlarmType = 1
	AlarmCorrupt AlarmType = 2
)

type Alarm struct {
	Action   AlarmAction
	MemberID uint64
	Alarm    AlarmType
}

// AlarmMember is one raised alarm.
type AlarmMember struct {
	MemberID uint64
	Alarm    AlarmType
}

// MemberAttrs are a member's name and client URLs as published in the membership.
type MemberAttrs struct {
	MemberID   uint64
	Name       string
	ClientURLs []string
}

// Kind names the request's operation, for logs.
func (r *Request) Kind() string {
	switch {
	case r.Put != nil:
		return "put"
	case r.DeleteRange != nil:
		return "delete_range"
	case r.Txn != nil:
		return "txn"
	case r.Compaction != nil:
		return "compaction"
	case r.LeaseGrant != nil:
		return "lease_grant"
	case r.LeaseRevoke != nil:
		return "lease_revoke"
	case r.LeaseCheckpoint != nil:
		return "lease_checkpoint"
	case r.Alarm != nil:
		return "alarm"
	case r.MemberAttrSet != nil:
		return "cluster_member_attr_set"
	case r.Auth != nil:
		return "auth"
	}
	return "empty"
}
