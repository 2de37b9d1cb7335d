package v3rpc

import (
	"context"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

// authServer is etcd's Auth service. Every request but Authenticate goes through the log
// (the reads too, as etcd's), where who may make it is decided.
type authServer struct {
	pb.UnimplementedAuthServer
	n *node.Node
}

func (s *authServer) do(ctx context.Context, r *core.AuthRequest, password string) (*core.AuthResponse, *pb.ResponseHeader, error) {
	resp, err := s.n.Auth(ctx, r, password)
	if err != nil {
		return nil, nil, err
	}
	return resp, pbconv.ResponseHeader(s.n.Header(), resp.Header.Revision), nil
}

func (s *authServer) AuthEnable(ctx context.Context, r *pb.AuthEnableRequest) (*pb.AuthEnableResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthEnable}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthEnableResponse{Header: h}, nil
}

func (s *authServer) AuthDisable(ctx context.Context, r *pb.AuthDisableRequest) (*pb.AuthDisableResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthDisable}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthDisableResponse{Header: h}, nil
}

func (s *authServer) AuthStatus(ctx context.Context, r *pb.AuthStatusRequest) (*pb.AuthStatusResponse, error) {
	resp, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthStatus}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthStatusResponse{Header: h, Enabled: resp.Enabled, AuthRevision: resp.AuthRevision}, nil
}

func (s *authServer) Authenticate(ctx context.Context, r *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	resp, token, err := s.n.Authenticate(ctx, r.Name, r.Password)
	if err != nil {
		return nil, err
	}
	return &pb.AuthenticateResponse{Header: pbconv.ResponseHeader(s.n.Header(), resp.Header.Revision), Token: token}, nil
}

func (s *authServer) UserAdd(ctx context.Context, r *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	req := &core.AuthRequest{Op: core.AuthUserAdd, Name: r.Name, HashedPassword: r.HashedPassword,
		NoPassword: r.Options != nil && r.Options.NoPassword}
	_, h, err := s.do(ctx, req, r.Password)
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserAddResponse{Header: h}, nil
}

func (s *authServer) UserGet(ctx context.Context, r *pb.AuthUserGetRequest) (*pb.AuthUserGetResponse, error) {
	resp, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthUserGet, Name: r.Name}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserGetResponse{Header: h, Roles: resp.Roles}, nil
}

func (s *authServer) UserList(ctx context.Context, r *pb.AuthUserListRequest) (*pb.AuthUserListResponse, error) {
	resp, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthUserList}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserListResponse{Header: h, Users: resp.Users}, nil
}

func (s *authServer) UserDelete(ctx context.Context, r *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthUserDelete, Name: r.Name}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserDeleteResponse{Header: h}, nil
}

func (s *authServer) UserChangePassword(ctx context.Context, r *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	req := &core.AuthRequest{Op: core.AuthUserChangePassword, Name: r.Name, HashedPassword: r.HashedPassword}
	_, h, err := s.do(ctx, req, r.Password)
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserChangePasswordResponse{Header: h}, nil
}

func (s *authServer) UserGrantRole(ctx context.Context, r *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthUserGrantRole, Name: r.User, Role: r.Role}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserGrantRoleResponse{Header: h}, nil
}

func (s *authServer) UserRevokeRole(ctx context.Context, r *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthUserRevokeRole, Name: r.Name, Role: r.Role}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthUserRevokeRoleResponse{Header: h}, nil
}

func (s *authServer) RoleAdd(ctx context.Context, r *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthRoleAdd, Name: r.Name}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleAddResponse{Header: h}, nil
}

func (s *authServer) RoleGet(ctx context.Context, r *pb.AuthRoleGetRequest) (*pb.AuthRoleGetResponse, error) {
	resp, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthRoleGet, Name: r.Role}, "")
	if err != nil {
		return nil, err
	}
	out := &pb.AuthRoleGetResponse{Header: h}
	for _, p := range resp.Perms {
		out.Perm = append(out.Perm, &authpb.Permission{PermType: authpb.Permission_Type(p.Type), Key: p.Key, RangeEnd: p.RangeEnd})
	}
	return out, nil
}

func (s *authServer) RoleList(ctx context.Context, r *pb.AuthRoleListRequest) (*pb.AuthRoleListResponse, error) {
	resp, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthRoleList}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleListResponse{Header: h, Roles: resp.Roles}, nil
}

func (s *authServer) RoleDelete(ctx context.Context, r *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	_, h, err := s.do(ctx, &core.AuthRequest{Op: core.AuthRoleDelete, Name: r.Role}, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleDeleteResponse{Header: h}, nil
}

func (s *authServer) RoleGrantPermission(ctx context.Context, r *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	req := &core.AuthRequest{Op: core.AuthRoleGrantPermission, Name: r.Name}
	if p := r.Perm; p != nil {
		req.Perm = &auth.Permission{Type: auth.PermType(p.PermType), Key: p.Key, RangeEnd: p.RangeEnd}
	}
	_, h, err := s.do(ctx, req, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleGrantPermissionResponse{Header: h}, nil
}

func (s *authServer) RoleRevokePermission(ctx context.Context, r *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	req := &core.AuthRequest{Op: core.AuthRoleRevokePermission, Name: r.Role, Key: []byte(r.Key), RangeEnd: []byte(r.RangeEnd)}
	_, h, err := s.do(ctx, req, "")
	if err != nil {
		return nil, err
	}
	return &pb.AuthRoleRevokePermissionResponse{Header: h}, nil
}

// credentialsOf reads who a request says it is (etcd's AuthInfoFromCtx and
// AuthInfoFromTLS): the "token" metadata clientv3 sends, else "authorization" (the JSON
// gateway's header, "Bearer " or not); with neither, and certAuth, the common name of the
// verified client certificate, unless the request came through the JSON gateway (whose
// certificate is the member's own).
func credentialsOf(ctx context.Context, h *headers, certAuth bool) node.Credentials {
	if h.hasToken {
		return node.Credentials{Token: h.token, HasToken: true}
	}
	if !certAuth || h.gateway {
		return node.Credentials{}
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return node.Credentials{}
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return node.Credentials{}
	}
	return node.Credentials{CommonName: ti.State.VerifiedChains[0][0].Subject.CommonName, HasCN: true}
}

// streamWithContext is a stream whose context carries the caller's credentials.
type streamWithContext struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *streamWithContext) Context() context.Context { return s.ctx }
