package pbconv

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/node"
)

// Errors of the gRPC edge itself, with etcd's texts; the member's are node's.
var (
	ErrWatchCanceled          = errors.New("etcdserver: watch canceled")
	ErrNotSupportedForLearner = errors.New("etcdserver: rpc not supported for learner")
)

var serverTable = []struct {
	err  error
	code codes.Code
}{
	{node.ErrRequestTooLarge, codes.InvalidArgument},
	{node.ErrStopped, codes.Unavailable},
	{node.ErrNoLeader, codes.Unavailable},
	{ErrWatchCanceled, codes.Canceled},
	{node.ErrNotLeader, codes.FailedPrecondition},
	{node.ErrBadTransferee, codes.FailedPrecondition},
	{node.ErrMemberNotFound, codes.NotFound},
	{node.ErrNoSpace, codes.ResourceExhausted},
	{node.ErrCorrupt, codes.DataLoss},
	{node.ErrTimeout, codes.Unavailable},
	{node.ErrLeaderChanged, codes.Unavailable},
	{node.ErrUnhealthy, codes.Unavailable},
	{node.ErrMemberExist, codes.FailedPrecondition},
	{node.ErrPeerURLExist, codes.FailedPrecondition},
	{node.ErrMemberBadURLs, codes.InvalidArgument},
	{node.ErrMemberNotLearner, codes.FailedPrecondition},
	{node.ErrLearnerNotReady, codes.FailedPrecondition},
	{node.ErrTooManyLearners, codes.FailedPrecondition},
	{ErrNotSupportedForLearner, codes.FailedPrecondition},
	{node.ErrNotEnoughStartedMembers, codes.Unknown},
	{node.ErrTimeoutLeaderTransfer, codes.Unknown},
	{node.ErrTimeoutWaitAppliedIndex, codes.Unavailable},
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
