package pbconv

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/server/node"
)

// Errors of the gRPC edge itself, with etcd's texts; the member's are node's.
var (
	ErrWatchCanceled          = errors.New("etcdserver: watch canceled")
	ErrNotSupportedForLearner = errors.New("etcdserver: rpc not supported for learner")
)

// edgeTable is the edge's own errors; the member's and the core's are node.Status's.
var edgeTable = []struct {
	err  error
	code codes.Code
}{
	{ErrWatchCanceled, codes.Canceled},
	{ErrNotSupportedForLearner, codes.FailedPrecondition},
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
	for _, e := range edgeTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, e.err.Error())
		}
	}
	code, msg := node.Status(err) // context errors too, as status.FromContextError words them
	return status.Error(codes.Code(code), msg)
}
