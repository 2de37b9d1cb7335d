package core

import (
	"errors"

	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/lease"
	"github.com/metastore/metastore/core/mvcc"
)

// EtcdVersion is the etcd release whose API and behaviour the core implements; servers and
// the wasm bridge report it (Kubernetes gates features on it).
const EtcdVersion = "3.6.16"

// Validation errors, with etcd's texts.
var (
	ErrEmptyKey          = errors.New("etcdserver: key is not provided")
	ErrKeyNotFound       = errors.New("etcdserver: key not found")
	ErrValueProvided     = errors.New("etcdserver: value is provided")
	ErrLeaseProvided     = errors.New("etcdserver: lease is provided")
	ErrTooManyOps        = errors.New("etcdserver: too many operations in txn request")
	ErrDuplicateKey      = errors.New("etcdserver: duplicate key given in txn request")
	ErrInvalidSortOption = errors.New("etcdserver: invalid sort option")
)

// Errors of the layers below, re-exported so that callers need only this package.
var (
	ErrCompacted        = mvcc.ErrCompacted
	ErrFutureRev        = mvcc.ErrFutureRev
	ErrLeaseNotFound    = lease.ErrLeaseNotFound
	ErrLeaseExists      = lease.ErrLeaseExists
	ErrLeaseTTLTooLarge = lease.ErrLeaseTTLTooLarge
)

// Code is a gRPC status code number (the values of google.golang.org/grpc/codes), kept here
// so that the core and the wasm bridge map errors without importing gRPC.
type Code uint32

const (
	CodeOK                 Code = 0
	CodeCanceled           Code = 1
	CodeUnknown            Code = 2
	CodeInvalidArgument    Code = 3
	CodeDeadlineExceeded   Code = 4
	CodeNotFound           Code = 5
	CodeAlreadyExists      Code = 6
	CodePermissionDenied   Code = 7
	CodeResourceExhausted  Code = 8
	CodeFailedPrecondition Code = 9
	CodeAborted            Code = 10
	CodeOutOfRange         Code = 11
	CodeUnimplemented      Code = 12
	CodeInternal           Code = 13
	CodeUnavailable        Code = 14
	CodeDataLoss           Code = 15
	CodeUnauthenticated    Code = 16
)

// statusTable is the one place where an error of the core becomes what etcd sends: its gRPC
// code and exact message (clientv3 matches on the message text).
var statusTable = []struct {
	err  error
	code Code
	msg  string
}{
	{ErrEmptyKey, CodeInvalidArgument, "etcdserver: key is not provided"},
	{ErrKeyNotFound, CodeInvalidArgument, "etcdserver: key not found"},
	{ErrValueProvided, CodeInvalidArgument, "etcdserver: value is provided"},
	{ErrLeaseProvided, CodeInvalidArgument, "etcdserver: lease is provided"},
	{ErrTooManyOps, CodeInvalidArgument, "etcdserver: too many operations in txn request"},
	{ErrDuplicateKey, CodeInvalidArgument, "etcdserver: duplicate key given in txn request"},
	{ErrInvalidSortOption, CodeInvalidArgument, "etcdserver: invalid sort option"},
	{mvcc.ErrCompacted, CodeOutOfRange, "etcdserver: mvcc: required revision has been compacted"},
	{mvcc.ErrFutureRev, CodeOutOfRange, "etcdserver: mvcc: required revision is a future revision"},
	{lease.ErrLeaseNotFound, CodeNotFound, "etcdserver: requested lease not found"},
	{lease.ErrLeaseExists, CodeFailedPrecondition, "etcdserver: lease already exists"},
	{lease.ErrLeaseTTLTooLarge, CodeOutOfRange, "etcdserver: too large lease TTL"},
	{auth.ErrRootUserNotExist, CodeFailedPrecondition, auth.ErrRootUserNotExist.Error()},
	{auth.ErrRootRoleNotExist, CodeFailedPrecondition, auth.ErrRootRoleNotExist.Error()},
	{auth.ErrUserAlreadyExist, CodeFailedPrecondition, auth.ErrUserAlreadyExist.Error()},
	{auth.ErrUserEmpty, CodeInvalidArgument, auth.ErrUserEmpty.Error()},
	{auth.ErrUserNotFound, CodeFailedPrecondition, auth.ErrUserNotFound.Error()},
	{auth.ErrRoleAlreadyExist, CodeFailedPrecondition, auth.ErrRoleAlreadyExist.Error()},
	{auth.ErrRoleNotFound, CodeFailedPrecondition, auth.ErrRoleNotFound.Error()},
	{auth.ErrRoleEmpty, CodeInvalidArgument, auth.ErrRoleEmpty.Error()},
	{auth.ErrAuthFailed, CodeInvalidArgument, auth.ErrAuthFailed.Error()},
	{auth.ErrPermissionNotGiven, CodeInvalidArgument, auth.ErrPermissionNotGiven.Error()},
	{auth.ErrPermissionDenied, CodePermissionDenied, auth.ErrPermissionDenied.Error()},
	{auth.ErrRoleNotGranted, CodeFailedPrecondition, auth.ErrRoleNotGranted.Error()},
	{auth.ErrPermissionNotGranted, CodeFailedPrecondition, auth.ErrPermissionNotGranted.Error()},
	{auth.ErrAuthNotEnabled, CodeFailedPrecondition, auth.ErrAuthNotEnabled.Error()},
	{auth.ErrInvalidAuthToken, CodeUnauthenticated, auth.ErrInvalidAuthToken.Error()},
	{auth.ErrInvalidAuthMgmt, CodeInvalidArgument, auth.ErrInvalidAuthMgmt.Error()},
	{auth.ErrAuthOldRevision, CodeInvalidArgument, auth.ErrAuthOldRevision.Error()},
}

// Status returns the gRPC code and message etcd answers err with. Errors it does not know
// become Unknown with their own text, as in etcd.
func Status(err error) (Code, string) {
	if err == nil {
		return CodeOK, ""
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.code, e.msg
		}
	}
	return CodeUnknown, err.Error()
}
