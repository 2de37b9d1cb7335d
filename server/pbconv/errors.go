package pbconv

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
)

// Errors of the server around the core, with etcd's texts.
var (
	ErrRequestTooLarge        = errors.New("etcdserver: request is too large")
	ErrStopped                = errors.New("etcdserver: server stopped")
	ErrNoLeader               = errors.New("etcdserver: no leader")
	ErrWatchCanceled          = errors.New("etcdserver: watch canceled")
	ErrNotLeader              = errors.New("etcdserver: not leader")
	ErrBadTransferee          = errors.New("etcdserver: bad leader transferee")
	ErrMemberNotFound         = errors.New("etcdserver: member not found")
	ErrNoSpace                = errors.New("etcdserver: mvcc: database space exceeded")
	ErrCorrupt                = errors.New("etcdserver: corrupt cluster")
	ErrTimeout                = errors.New("etcdserver: request timed out")
	ErrLeaderChanged          = errors.New("etcdserver: leader changed")
	ErrUnhealthy              = errors.New("etcdserver: unhealthy cluster")
	ErrMemberExist            = errors.New("etcdserver: member ID already exist")
	ErrPeerURLExist           = errors.New("etcdserver: Peer URLs already exists")
	ErrMemberBadURLs          = errors.New("etcdserver: given member URLs are invalid")
	ErrMemberNotLearner       = errors.New("etcdserver: can only promote a learner member")
	ErrLearnerNotReady        = errors.New("etcdserver: can only promote a learner member which is in sync with leader")
	ErrTooManyLearners        = errors.New("etcdserver: too many learner members in cluster")
	ErrNotSupportedForLearner = errors.New("etcdserver: rpc not supported for learner")
	// etcd sends these two with code Unknown (they are missing from its error map).
	ErrNotEnoughStartedMembers = errors.New("etcdserver: re-configuration failed due to not enough started members")
	ErrTimeoutLeaderTransfer   = errors.New("etcdserver: request timed out, leader transfer took too long")
)

var serverTable = []struct {
	err  error
	code codes.Code
}{
	{ErrRequestTooLarge, codes.InvalidArgument},
	{ErrStopped, codes.Unavailable},
	{ErrNoLeader, codes.Unavailable},
	{ErrWatchCanceled, codes.Canceled},
	{ErrNotLeader, codes.FailedPrecondition},
	{ErrBadTransferee, codes.FailedPrecondition},
	{ErrMemberNotFound, codes.NotFound},
	{ErrNoSpace, codes.ResourceExhausted},
	{ErrCorrupt, codes.DataLoss},
	{ErrTimeout, codes.Unavailable},
	{ErrLeaderChanged, codes.Unavailable},
	{ErrUnhealthy, codes.Unavailable},
	{ErrMemberExist, codes.FailedPrecondition},
	{ErrPeerURLExist, codes.FailedPrecondition},
	{ErrMemberBadURLs, codes.InvalidArgument},
	{ErrMemberNotLearner, codes.FailedPrecondition},
	{ErrLearnerNotReady, codes.FailedPrecondition},
	{ErrTooManyLearners, codes.FailedPrecondition},
	{ErrNotSupportedForLearner, codes.FailedPrecondition},
	{ErrNotEnoughStartedMembers, codes.Unknown},
	{ErrTimeoutLeaderTransfer, codes.Unknown},
}

// Error turns an error of the core or the server into the gRPC status error etcd would
// return: same code, same message (clientv3 recognises errors by their text). Status errors
// pass through; context errors become Canceled/DeadlineExceeded.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range serverTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, e.err.Error())
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	code, msg := core.Status(err)
	return status.Error(codes.Code(code), msg)
}
