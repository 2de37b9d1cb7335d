package raftreq

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core/auth"
)

// AuthOp names an auth request by its field number in etcd's InternalRaftRequest.
type AuthOp int32

const (
	AuthEnable               AuthOp = 1000
	AuthDisable              AuthOp = 1011
	Authenticate             AuthOp = 1012
	AuthStatus               AuthOp = 1013
	AuthUserAdd              AuthOp = 1100
	AuthUserDelete           AuthOp = 1101
	AuthUserGet              AuthOp = 1102
	AuthUserChangePassword   AuthOp = 1103
	AuthUserGrantRole        AuthOp = 1104
	AuthUserRevokeRole       AuthOp = 1105
	AuthUserList             AuthOp = 1106
	AuthRoleList             AuthOp = 1107
	AuthRoleAdd              AuthOp = 1200
	AuthRoleDelete           AuthOp = 1201
	AuthRoleGet              AuthOp = 1202
	AuthRoleGrantPermission  AuthOp = 1203
	AuthRoleRevokePermission AuthOp = 1204
)

// Auth is one auth request. Passwords never enter the log: a new password travels as its
// bcrypt hash (base64, etcd's hashedPassword), and a login as the token prefix the proposing
// member drew, after it checked the password itself.
type Auth struct {
	Op AuthOp
	// Name is the user (Authenticate and the User ops) or the role (the Role ops).
	Name string
	// Role is the role granted to or revoked from user Name.
	Role           string
	HashedPassword string
	NoPassword     bool
	SimpleToken    string
	Perm           *auth.Permission // AuthRoleGrantPermission
	Key, RangeEnd  []byte           // AuthRoleRevokePermission
}

func (a *Auth) marshal() []byte {
	var b []byte
	switch a.Op {
	case AuthUserAdd:
		b = appendBytes(b, 1, []byte(a.Name))
		if a.NoPassword {
			b = appendMsg(b, 3, appendBool(nil, 1, true))
		}
		b = appendBytes(b, 4, []byte(a.HashedPassword))
	case Authenticate:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 3, []byte(a.SimpleToken))
	case AuthUserChangePassword:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 3, []byte(a.HashedPassword))
	case AuthUserGrantRole, AuthUserRevokeRole:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 2, []byte(a.Role))
	case AuthUserDelete, AuthUserGet, AuthRoleAdd, AuthRoleDelete, AuthRoleGet:
		b = appendBytes(b, 1, []byte(a.Name))
	case AuthRoleGrantPermission:
		b = appendBytes(b, 1, []byte(a.Name))
		if a.Perm != nil {
			var p []byte
			p = appendVarint(p, 1, uint64(a.Perm.Type))
			p = appendBytes(p, 2, a.Perm.Key)
			p = appendBytes(p, 3, a.Perm.RangeEnd)
			b = appendMsg(b, 2, p)
		}
	case AuthRoleRevokePermission:
		b = appendBytes(b, 1, []byte(a.Name))
		b = appendBytes(b, 2, a.Key)
		b = appendBytes(b, 3, a.RangeEnd)
	}
	return b
}

func isAuthOp(num protowire.Number) bool {
	switch AuthOp(num) {
	case AuthEnable, AuthDisable, Authenticate, AuthStatus, AuthUserAdd, AuthUserDelete, AuthUserGet,
		AuthUserChangePassword, AuthUserGrantRole, AuthUserRevokeRole, AuthUserList, AuthRoleList,
		AuthRoleAdd, AuthRoleDelete, AuthRoleGet, AuthRoleGrantPermission, AuthRoleRevokePermission:
		return true
	}
	return false
}

func decodeAuth(op AuthOp, b []byte) (*Auth, error) {
	a := &Auth{Op: op}
	return a, fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if typ == protowire.VarintType {
			return nil
		}
		switch {
		case num == 1:
			a.Name = string(v)
		case num == 2 && (op == AuthUserGrantRole || op == AuthUserRevokeRole):
			a.Role = string(v)
		case num == 2 && op == AuthRoleRevokePermission:
			a.Key = v
		case num == 3 && op == AuthRoleRevokePermission:
			a.RangeEnd = v
		case num == 2 && op == AuthRoleGrantPermission:
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
		case num == 3 && op == AuthUserAdd:
			return varints(v, func(num protowire.Number, x uint64) {
				if num == 1 {
					a.NoPassword = x != 0
				}
			})
		case num == 4 && op == AuthUserAdd, num == 3 && op == AuthUserChangePassword:
			a.HashedPassword = string(v)
		case num == 3 && op == Authenticate:
			a.SimpleToken = string(v)
		}
		return nil
	})
}
