package node

import "errors"

// Errors of the member, with etcd's texts (clientv3 recognises errors by their text); the
// gRPC edge (pbconv.Error) gives each etcd's status code.
var (
	ErrRequestTooLarge  = errors.New("etcdserver: request is too large")
	ErrStopped          = errors.New("etcdserver: server stopped")
	ErrNoLeader         = errors.New("etcdserver: no leader")
	ErrNotLeader        = errors.New("etcdserver: not leader")
	ErrBadTransferee    = errors.New("etcdserver: bad leader transferee")
	ErrMemberNotFound   = errors.New("etcdserver: member not found")
	ErrNoSpace          = errors.New("etcdserver: mvcc: database space exceeded")
	ErrCorrupt          = errors.New("etcdserver: corrupt cluster")
	ErrTimeout          = errors.New("etcdserver: request timed out")
	ErrLeaderChanged    = errors.New("etcdserver: leader changed")
	ErrUnhealthy        = errors.New("etcdserver: unhealthy cluster")
	ErrMemberExist      = errors.New("etcdserver: member ID already exist")
	ErrPeerURLExist     = errors.New("etcdserver: Peer URLs already exists")
	ErrMemberBadURLs    = errors.New("etcdserver: given member URLs are invalid")
	ErrMemberNotLearner = errors.New("etcdserver: can only promote a learner member")
	ErrLearnerNotReady  = errors.New("etcdserver: can only promote a learner member which is in sync with leader")
	ErrTooManyLearners  = errors.New("etcdserver: too many learner members in cluster")
	// etcd sends these two with code Unknown (they are missing from its error map).
	ErrNotEnoughStartedMembers = errors.New("etcdserver: re-configuration failed due to not enough started members")
	ErrTimeoutLeaderTransfer   = errors.New("etcdserver: request timed out, leader transfer took too long")
	ErrTimeoutWaitAppliedIndex = errors.New("etcdserver: request timed out, waiting for the applied index took too long")
)
