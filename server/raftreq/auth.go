package raftreq

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
)

// appendAuth appends an auth request's message (the field its Op numbers holds it).
func appendAuth(b []byte, a *core.AuthRequest) []byte {
	switch a.Op {
	case core.AuthUserAdd:
		b = appendBytes(b, 1, []byte(a.Name))
		if a.NoPassword {
			b = appendNested(b, 3, func(b []byte) []byte { return appendBool(b, 1, true) })
		}
		b = appendBytes(b, 4, []byte(a.HashedPassword))
	case core.Authenticate:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 3, []byte(a.SimpleToken))
	case core.AuthUserChangePassword:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 3, []byte(a.HashedPassword))
	case core.AuthUserGrantRole, core.AuthUserRevokeRole:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 2, []byte(a.Role))
	case core.AuthUserDelete, core.AuthUserGet, core.AuthRoleAdd, core.AuthRoleDelete, core.AuthRoleGet:
		b = appendBytes(b, 1, []byte(a.Name))
	case core.AuthRoleGrantPermission:
		b = appendBytes(b, 1, []byte(a.Name))
		if a.Perm != nil {
			b = appendNested(b, 2, func(b []byte) []byte {
				b = appendVarint(b, 1, uint64(a.Perm.Type))
				b = appendBytes(b, 2, a.Perm.Key)
				return appendBytes(b, 3, a.Perm.RangeEnd)
			})
		}
	case core.AuthRoleRevokePermission:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 2, a.Key)
		b = appendBytes(b, 3, a.RangeEnd)
	}
	return b
}

func isAuthOp(num protowire.Number) bool {
	switch core.AuthOp(num) {
	case core.AuthEnable, core.AuthDisable, core.Authenticate, core.AuthStatus, core.AuthUserAdd, core.AuthUserDelete, core.AuthUserGet,
		core.AuthUserChangePassword, core.AuthUserGrantRole, core.AuthUserRevokeRole, core.AuthUserList, core.AuthRoleList,
		core.AuthRoleAdd, core.AuthRoleDelete, core.AuthRoleGet, core.AuthRoleGrantPermission, core.AuthRoleRevokePermission:
		return true
	}
	return false
}

func decodeAuth(op core.AuthOp, b []byte) (*core.AuthRequest, error) {
	a := &core.AuthRequest{Op: op}
	return a, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ == protowire.VarintType {
			return nil
		}
		switch {
		case num == 1:
			a.Name = string(v)
		case num == 2 && (op == core.AuthUserGrantRole || op == core.AuthUserRevokeRole):
			a.Role = string(v)
		case num == 2 && op == core.AuthRoleRevokePermission:
			a.Key = v
		case num == 3 && op == core.AuthRoleRevokePermission:
			a.RangeEnd = v
		case num == 2 && op == core.AuthRoleGrantPermission:
			p := &auth.Permission{}
			a.Perm = p
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					p.Type = auth.PermType(x)
				case num == 2 && typ == protowire.BytesType:
					p.Key = v
				case num == 3 && typ == protowire.BytesType:
					p.RangeEnd = v
				}
				return nil
			})
		case num == 3 && op == core.AuthUserAdd:
			return varints(v, func(num protowire.Number, x uint64) {
				if num == 1 {
					a.NoPassword = x != 0
				}
			})
		case num == 4 && op == core.AuthUserAdd, num == 3 && op == core.AuthUserChangePassword:
			a.HashedPassword = string(v)
		case num == 3 && op == core.Authenticate:
			a.SimpleToken = string(v)
		}
		return nil
	})
}
