package node

import (
	"context"
	"errors"

	"github.com/metastore/metastore/core"
)

// Errors of the member, with etcd's texts (clientv3 recognises errors by their text); Status
// gives each etcd's status code.
var (
	ErrRequestTooLarge = errors.New("etcdserver: request is too large")
	ErrStopped         = errors.New("etcdserver: server stopped")
	ErrNoLeader        = errors.New("etcdserver: no leader")
	ErrNotLeader       = errors.New("etcdserver: not leader")
	ErrBadTransferee   = errors.New("etcdserver: bad leader transferee")
	ErrMemberNotFound  = errors.New("etcdserver: member not found")
	ErrNoSpace         = errors.New("etcdserver: mvcc: database space exceeded")
	ErrCorrupt         = errors.New("etcdserver: corrupt cluster")
	ErrTimeout         = errors.New("etcdserver: request timed out")
	// ErrTimeoutDueToLeaderFail: a write that did not commit within the request timeout
	// while another leader took over.
	ErrTimeoutDueToLeaderFail = errors.New("etcdserver: request timed out, possibly due to previous leader failure")
	ErrLeaderChanged          = errors.New("etcdserver: leader changed")
	ErrUnhealthy              = errors.New("etcdserver: unhealthy cluster")
	ErrMemberExist            = errors.New("etcdserver: member ID already exist")
	ErrPeerURLExist           = errors.New("etcdserver: Peer URLs already exists")
	ErrMemberBadURLs          = errors.New("etcdserver: given member URLs are invalid")
	ErrMemberNotLearner       = errors.New("etcdserver: can only promote a learner member")
	ErrLearnerNotReady        = errors.New("etcdserver: can only promote a learner member which is in sync with leader")
	ErrTooManyLearners        = errors.New("etcdserver: too many learner members in cluster")
	// etcd sends these two with code Unknown (they are missing from its error map).
	ErrNotEnoughStartedMembers = errors.New("etcdserver: re-configuration failed due to not enough started members")
	ErrTimeoutLeaderTransfer   = errors.New("etcdserver: request timed out, leader transfer took too long")
	ErrTimeoutWaitAppliedIndex = errors.New("etcdserver: request timed out, waiting for the applied index took too long")
	// Downgrade (Maintenance.Downgrade).
	ErrWrongDowngradeVersionFormat   = errors.New("etcdserver: wrong downgrade target version format")
	ErrInvalidDowngradeTargetVersion = errors.New("etcdserver: invalid downgrade target version")
	ErrUnknownMethod                 = errors.New("etcdserver: unknown method") // code Unknown, as etcd's
)

var statusTable = []struct {
	err  error
	code core.Code
}{
	{ErrRequestTooLarge, core.CodeInvalidArgument},
	{ErrStopped, core.CodeUnavailable},
	{ErrNoLeader, core.CodeUnavailable},
	{ErrNotLeader, core.CodeFailedPrecondition},
	{ErrBadTransferee, core.CodeFailedPrecondition},
	{ErrMemberNotFound, core.CodeNotFound},
	{ErrNoSpace, core.CodeResourceExhausted},
	{ErrCorrupt, core.CodeDataLoss},
	{ErrTimeout, core.CodeUnavailable},
	{ErrTimeoutDueToLeaderFail, core.CodeUnavailable},
	{ErrLeaderChanged, core.CodeUnavailable},
	{ErrUnhealthy, core.CodeUnavailable},
	{ErrMemberExist, core.CodeFailedPrecondition},
	{ErrPeerURLExist, core.CodeFailedPrecondition},
	{ErrMemberBadURLs, core.CodeInvalidArgument},
	{ErrMemberNotLearner, core.CodeFailedPrecondition},
	{ErrLearnerNotReady, core.CodeFailedPrecondition},
	{ErrTooManyLearners, core.CodeFailedPrecondition},
	{ErrNotEnoughStartedMembers, core.CodeUnknown},
	{ErrTimeoutLeaderTransfer, core.CodeUnknown},
	{ErrTimeoutWaitAppliedIndex, core.CodeUnavailable},
	{ErrWrongDowngradeVersionFormat, core.CodeInvalidArgument},
	{ErrInvalidDowngradeTargetVersion, core.CodeInvalidArgument},
	{ErrUnknownMethod, core.CodeUnknown},
}

// Status is the status code and message etcd answers an error of the member or the core
// with; a context's end is Canceled or DeadlineExceeded, as gRPC reports it.
func Status(err error) (core.Code, string) {
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.code, e.err.Error()
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return core.CodeCanceled, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return core.CodeDeadlineExceeded, err.Error()
	}
	return core.Status(err)
}
