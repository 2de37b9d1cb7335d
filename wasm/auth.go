//go:build js && wasm

package main

import (
	"encoding/base64"
	"fmt"
	"syscall/js"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/wasm/gateway"
)

// bcryptCost is the cost of the password hashes the tab makes (user add, user passwd):
// bcrypt's minimum. bcrypt is slow on purpose, and slower still in WebAssembly; the cost
// changes how long hashing and logging in take, not what the store decides.
const bcryptCost = 4

// caller is who a call comes from. A client (the console, acting as etcdctl) passes a user
// name as the call's third argument: "" for a client without credentials, else a user whose
// password it has checked (auth.authenticate). Its requests get the checks a server makes
// for a request from that user. The page itself passes none: its panels, persistence and
// benchmarks act for the store's owner, as root (as a server's members do for their own
// requests), which auth never refuses.
type caller struct {
	client bool
	user   string
}

// callerOf reads the optional third argument of call and callSync.
func callerOf(args []js.Value) caller {
	if len(args) > 2 && args[2].Type() == js.TypeString {
		return caller{client: true, user: args[2].String()}
	}
	return caller{}
}

// authInfo is the caller as the store's checks see it, at the store's current auth revision
// (as a server resolves a simple token: the user now).
func (c caller) authInfo(s *core.Store) core.AuthInfo {
	switch {
	case !c.client:
		return core.AuthInfo{Username: "root", Revision: s.AuthRevision()}
	case c.user == "":
		return core.AuthInfo{}
	}
	return core.AuthInfo{Username: c.user, Revision: s.AuthRevision()}
}

// The checks below are the server's (server/node): a request is validated first, so a
// malformed one gets its own error whoever sends it, then checked against who sends it.

func checkRange(s *core.Store, ai core.AuthInfo, r *core.RangeRequest) error {
	if err := core.ValidateRange(r); err != nil {
		return err
	}
	return s.CheckRange(ai, r.Key, r.RangeEnd)
}

func checkPut(s *core.Store, ai core.AuthInfo, r *core.PutRequest) error {
	if err := core.ValidatePut(r); err != nil {
		return err
	}
	return s.CheckPut(ai, r)
}

func checkDelete(s *core.Store, ai core.AuthInfo, r *core.DeleteRangeRequest) error {
	if err := core.ValidateDeleteRange(r); err != nil {
		return err
	}
	return s.CheckDeleteRange(ai, r)
}

func checkTxn(s *core.Store, ai core.AuthInfo, r *core.TxnRequest) error {
	if err := s.ValidateTxn(r); err != nil {
		return err
	}
	return s.CheckTxn(ai, r)
}

// checkLeaseRevoke is a server's two checks of a revoke: a user when it is asked, the right
// to write every key of the lease when it is applied.
func checkLeaseRevoke(s *core.Store, ai core.AuthInfo, id int64) error {
	if err := s.CheckAuthenticated(ai); err != nil {
		return err
	}
	return s.CheckLease(ai, id)
}

// checkTimeToLive is a server's check of a lease query: a user, who may read every key the
// answer shows (with keys, those of the lease).
func checkTimeToLive(s *core.Store, ai core.AuthInfo, id int64, keys bool) error {
	if keys {
		return s.CheckLeaseRead(ai, id)
	}
	return s.CheckLeaseRead(ai)
}

// checkWatch checks a watch's creation (only then, as etcd): reading what it covers, the key
// "" standing for "\x00".
func checkWatch(s *core.Store, ai core.AuthInfo, r *core.WatchCreateRequest) error {
	key := r.Key
	if len(key) == 0 {
		key = []byte{0}
	}
	return s.CheckRange(ai, key, r.RangeEnd)
}

// deniedWatch is what a server answers a watch it refuses with, on the stream, which stays
// open: created and canceled at once, watch ID -1, the reason as a gRPC error's text.
func deniedWatch(s *core.Store, err error) map[string]any {
	code, msg := core.Status(err)
	return map[string]any{"header": gateway.Header(core.ResponseHeader{Revision: s.Rev()}), "watch_id": "-1", "created": true,
		"canceled": true, "compact_revision": "0", "events": []any{},
		"cancel_reason": fmt.Sprintf("rpc error: code = %s desc = %s", codeNames[code], msg)}
}

// codeNames are gRPC's names of its codes (codes.Code's String).
var codeNames = map[core.Code]string{
	core.CodeOK: "OK", core.CodeCanceled: "Canceled", core.CodeUnknown: "Unknown",
	core.CodeInvalidArgument: "InvalidArgument", core.CodeDeadlineExceeded: "DeadlineExceeded",
	core.CodeNotFound: "NotFound", core.CodeAlreadyExists: "AlreadyExists", core.CodePermissionDenied: "PermissionDenied",
	core.CodeResourceExhausted: "ResourceExhausted", core.CodeFailedPrecondition: "FailedPrecondition",
	core.CodeAborted: "Aborted", core.CodeOutOfRange: "OutOfRange", core.CodeUnimplemented: "Unimplemented",
	core.CodeInternal: "Internal", core.CodeUnavailable: "Unavailable", core.CodeDataLoss: "DataLoss",
	core.CodeUnauthenticated: "Unauthenticated",
}

// permission is authpb.Permission in the gateway's JSON.
type permission struct {
	PermType int32  `json:"permType"`
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end"`
}

// authRequest holds the fields of every auth request of etcd's gateway (/v3/auth/...), by
// their JSON names; each method reads its own.
type authRequest struct {
	Name           string `json:"name"`
	User           string `json:"user"`
	Role           string `json:"role"`
	Password       string `json:"password"`
	HashedPassword string `json:"hashedPassword"`
	Options        *struct {
		NoPassword bool `json:"no_password"`
	} `json:"options"`
	Perm     *permission `json:"perm"`
	Key      []byte      `json:"key"`
	RangeEnd []byte      `json:"range_end"`
}

// authMethods are the auth methods, named after the gateway's paths (auth.user.add is
// /v3/auth/user/add), and the core's request each makes.
var authMethods = map[string]func(r *authRequest) (*core.AuthRequest, error){
	"auth.enable":  func(*authRequest) (*core.AuthRequest, error) { return &core.AuthRequest{Op: core.AuthEnable}, nil },
	"auth.disable": func(*authRequest) (*core.AuthRequest, error) { return &core.AuthRequest{Op: core.AuthDisable}, nil },
	"auth.status":  func(*authRequest) (*core.AuthRequest, error) { return &core.AuthRequest{Op: core.AuthStatus}, nil },
	"auth.user.add": func(r *authRequest) (*core.AuthRequest, error) {
		noPassword := r.Options != nil && r.Options.NoPassword
		req := &core.AuthRequest{Op: core.AuthUserAdd, Name: r.Name, NoPassword: noPassword}
		if !noPassword {
			// As a server does, before anything else: any password, an empty one too.
			hash, err := auth.HashPassword(r.Password, bcryptCost)
			if err != nil {
				return nil, err
			}
			req.HashedPassword = base64.StdEncoding.EncodeToString(hash)
		}
		return req, nil
	},
	"auth.user.get": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthUserGet, Name: r.Name}, nil
	},
	"auth.user.list": func(*authRequest) (*core.AuthRequest, error) { return &core.AuthRequest{Op: core.AuthUserList}, nil },
	"auth.user.delete": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthUserDelete, Name: r.Name}, nil
	},
	"auth.user.changepw": func(r *authRequest) (*core.AuthRequest, error) {
		req := &core.AuthRequest{Op: core.AuthUserChangePassword, Name: r.Name, HashedPassword: r.HashedPassword}
		if r.Password != "" {
			hash, err := auth.HashPassword(r.Password, bcryptCost)
			if err != nil {
				return nil, err
			}
			req.HashedPassword = base64.StdEncoding.EncodeToString(hash)
		}
		return req, nil
	},
	"auth.user.grant": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthUserGrantRole, Name: r.User, Role: r.Role}, nil
	},
	"auth.user.revoke": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthUserRevokeRole, Name: r.Name, Role: r.Role}, nil
	},
	"auth.role.add": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthRoleAdd, Name: r.Name}, nil
	},
	"auth.role.get": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthRoleGet, Name: r.Role}, nil
	},
	"auth.role.list": func(*authRequest) (*core.AuthRequest, error) { return &core.AuthRequest{Op: core.AuthRoleList}, nil },
	"auth.role.delete": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthRoleDelete, Name: r.Role}, nil
	},
	"auth.role.grant": func(r *authRequest) (*core.AuthRequest, error) {
		req := &core.AuthRequest{Op: core.AuthRoleGrantPermission, Name: r.Name}
		if r.Perm != nil {
			req.Perm = &auth.Permission{Type: auth.PermType(r.Perm.PermType), Key: r.Perm.Key, RangeEnd: r.Perm.RangeEnd}
		}
		return req, nil
	},
	"auth.role.revoke": func(r *authRequest) (*core.AuthRequest, error) {
		return &core.AuthRequest{Op: core.AuthRoleRevokePermission, Name: r.Role, Key: r.Key, RangeEnd: r.RangeEnd}, nil
	},
}

// authCall runs an auth method (ok false: method is none). auth.authenticate checks a
// password, as a server does before it makes a token; the tab makes none: a client that
// logged in passes its user name with each call (see caller).
func authCall(s *core.Store, ai core.AuthInfo, method string, decode func(any) error) (out any, ok bool, err error) {
	var r authRequest
	if method == "auth.authenticate" {
		if err := decode(&r); err != nil {
			return nil, true, err
		}
		if _, err := s.CheckPassword(r.Name, r.Password); err != nil {
			return nil, true, err
		}
		return map[string]any{"header": gateway.Header(core.ResponseHeader{Revision: s.Rev()})}, true, nil
	}
	build, ok := authMethods[method]
	if !ok {
		return nil, false, nil
	}
	if err := decode(&r); err != nil {
		return nil, true, err
	}
	req, err := build(&r)
	if err != nil {
		return nil, true, err
	}
	resp, err := s.Auth(ai, req)
	if err != nil {
		return nil, true, err
	}
	return authResponseOf(req.Op, resp), true, nil
}

// authResponseOf is the gateway's JSON of an auth response (empty lists and false left out,
// as etcd's gateway leaves them).
func authResponseOf(op core.AuthOp, r *core.AuthResponse) map[string]any {
	m := map[string]any{"header": gateway.Header(r.Header)}
	switch op {
	case core.AuthStatus:
		m["enabled"] = r.Enabled
		m["authRevision"] = fmt.Sprint(r.AuthRevision)
	case core.AuthUserGet, core.AuthRoleList:
		if len(r.Roles) > 0 {
			m["roles"] = r.Roles
		}
	case core.AuthUserList:
		if len(r.Users) > 0 {
			m["users"] = r.Users
		}
	case core.AuthRoleGet:
		perms := make([]permission, len(r.Perms))
		for i, p := range r.Perms {
			perms[i] = permission{PermType: int32(p.Type), Key: p.Key, RangeEnd: p.RangeEnd}
		}
		if len(perms) > 0 {
			m["perm"] = perms
		}
	}
	return m
}
