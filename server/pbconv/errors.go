package pbconv

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
)

// Error turns a core error into the gRPC status error etcd would return: same code, same
// message (clientv3 recognises errors by their text).
func Error(err error) error {
	if err == nil {
		return nil
	}
	code, msg := core.Status(err)
	return status.Error(codes.Code(code), msg)
}
