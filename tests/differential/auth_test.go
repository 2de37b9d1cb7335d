//go:build !js

package differential

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/node"
)

// The auth differential tests run one script of requests against a real etcd and a metastore
// server over raw gRPC (no clientv3: its retries would hide errors) and compare every answer:
// the gRPC code and message of an error, or the whole response with the header's cluster_id,
// member_id and raft_term cleared once both are known to carry them. The script also states
// what etcd answers (the spec, docs/research/etcd-auth.md), so a wrong script fails on etcd's
// side before the comparison could pass vacuously.

// The errors the script expects, as etcd's server sends them.
var (
	errUserEmpty       = rpctypes.ErrGRPCUserEmpty
	errUserExists      = rpctypes.ErrGRPCUserAlreadyExist
	errUserNotFound    = rpctypes.ErrGRPCUserNotFound
	errRoleEmpty       = rpctypes.ErrGRPCRoleEmpty
	errRoleExists      = rpctypes.ErrGRPCRoleAlreadyExist
	errRoleNotFound    = rpctypes.ErrGRPCRoleNotFound
	errRootUserMissing = rpctypes.ErrGRPCRootUserNotExist
	errRootRoleMissing = rpctypes.ErrGRPCRootRoleNotExist
	errAuthFailed      = rpctypes.ErrGRPCAuthFailed
	errPermNotGiven    = rpctypes.ErrGRPCPermissionNotGiven
	errDenied          = rpctypes.ErrGRPCPermissionDenied
	errRoleNotGranted  = rpctypes.ErrGRPCRoleNotGranted
	errPermNotGranted  = rpctypes.ErrGRPCPermissionNotGranted
	errNotEnabled      = rpctypes.ErrGRPCAuthNotEnabled
	errInvalidToken    = rpctypes.ErrGRPCInvalidAuthToken
	errInvalidMgmt     = rpctypes.ErrGRPCInvalidAuthMgmt
	errLeaseNotFound   = rpctypes.ErrGRPCLeaseNotFound
	// Not in etcd's error map: they reach the client as codes.Unknown with the internal text.
	errNoPasswordUser  = status.Error(codes.Unknown, "auth: authentication failed, password was given for no password user")
	errPasswordTooLong = status.Error(codes.Unknown, "bcrypt: password length exceeds 72 bytes")
)

// simpleToken is the shape of etcd's simple token: 16 letters, a dot, the Raft index of the
// Authenticate entry.
var (
	simpleToken = regexp.MustCompile(`^[A-Za-z]{16}\.[0-9]+$`)
	jwtToken    = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
)

// authSide is one server under comparison, with the tokens its users got from it.
type authSide struct {
	name    string
	auth    pb.AuthClient
	kv      pb.KVClient
	lease   pb.LeaseClient
	watch   pb.WatchClient
	maint   pb.MaintenanceClient
	cluster pb.ClusterClient
	tokens  map[string]string // user → its latest token from this server
	index   uint64            // the Raft index of the latest token (they must increase)
}

func newAuthSide(name string, conn *grpc.ClientConn) *authSide {
	return &authSide{
		name: name, auth: pb.NewAuthClient(conn), kv: pb.NewKVClient(conn), lease: pb.NewLeaseClient(conn),
		watch: pb.NewWatchClient(conn), maint: pb.NewMaintenanceClient(conn), cluster: pb.NewClusterClient(conn),
		tokens: map[string]string{},
	}
}

// invoke sends req to the RPC it is the request of. Streams opened for one request (Snapshot,
// LeaseKeepAlive) answer with their first message or error.
func (s *authSide) invoke(ctx context.Context, req proto.Message) (proto.Message, error) {
	switch r := req.(type) {
	case *pb.AuthEnableRequest:
		return s.auth.AuthEnable(ctx, r)
	case *pb.AuthDisableRequest:
		return s.auth.AuthDisable(ctx, r)
	case *pb.AuthStatusRequest:
		return s.auth.AuthStatus(ctx, r)
	case *pb.AuthenticateRequest:
		return s.auth.Authenticate(ctx, r)
	case *pb.AuthUserAddRequest:
		return s.auth.UserAdd(ctx, r)
	case *pb.AuthUserGetRequest:
		return s.auth.UserGet(ctx, r)
	case *pb.AuthUserListRequest:
		return s.auth.UserList(ctx, r)
	case *pb.AuthUserDeleteRequest:
		return s.auth.UserDelete(ctx, r)
	case *pb.AuthUserChangePasswordRequest:
		return s.auth.UserChangePassword(ctx, r)
	case *pb.AuthUserGrantRoleRequest:
		return s.auth.UserGrantRole(ctx, r)
	case *pb.AuthUserRevokeRoleRequest:
		return s.auth.UserRevokeRole(ctx, r)
	case *pb.AuthRoleAddRequest:
		return s.auth.RoleAdd(ctx, r)
	case *pb.AuthRoleGetRequest:
		return s.auth.RoleGet(ctx, r)
	case *pb.AuthRoleListRequest:
		return s.auth.RoleList(ctx, r)
	case *pb.AuthRoleDeleteRequest:
		return s.auth.RoleDelete(ctx, r)
	case *pb.AuthRoleGrantPermissionRequest:
		return s.auth.RoleGrantPermission(ctx, r)
	case *pb.AuthRoleRevokePermissionRequest:
		return s.auth.RoleRevokePermission(ctx, r)
	case *pb.RangeRequest:
		return s.kv.Range(ctx, r)
	case *pb.PutRequest:
		return s.kv.Put(ctx, r)
	case *pb.DeleteRangeRequest:
		return s.kv.DeleteRange(ctx, r)
	case *pb.TxnRequest:
		return s.kv.Txn(ctx, r)
	case *pb.CompactionRequest:
		return s.kv.Compact(ctx, r)
	case *pb.LeaseGrantRequest:
		return s.lease.LeaseGrant(ctx, r)
	case *pb.LeaseRevokeRequest:
		return s.lease.LeaseRevoke(ctx, r)
	case *pb.LeaseTimeToLiveRequest:
		return s.lease.LeaseTimeToLive(ctx, r)
	case *pb.LeaseLeasesRequest:
		return s.lease.LeaseLeases(ctx, r)
	case *pb.LeaseKeepAliveRequest:
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st, err := s.lease.LeaseKeepAlive(ctx)
		if err != nil {
			return nil, err
		}
		if err := st.Send(r); err != nil {
			return nil, err
		}
		return st.Recv()
	case *pb.StatusRequest:
		return s.maint.Status(ctx, r)
	case *pb.AlarmRequest:
		return s.maint.Alarm(ctx, r)
	case *pb.HashRequest:
		return s.maint.Hash(ctx, r)
	case *pb.HashKVRequest:
		return s.maint.HashKV(ctx, r)
	case *pb.DefragmentRequest:
		return s.maint.Defragment(ctx, r)
	case *pb.MoveLeaderRequest:
		return s.maint.MoveLeader(ctx, r)
	case *pb.SnapshotRequest:
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st, err := s.maint.Snapshot(ctx, r)
		if err != nil {
			return nil, err
		}
		return st.Recv()
	case *pb.DowngradeRequest:
		return s.maint.Downgrade(ctx, r)
	case *pb.MemberListRequest:
		return s.cluster.MemberList(ctx, r)
	case *pb.MemberAddRequest:
		return s.cluster.MemberAdd(ctx, r)
	case *pb.MemberRemoveRequest:
		return s.cluster.MemberRemove(ctx, r)
	case *pb.MemberUpdateRequest:
		return s.cluster.MemberUpdate(ctx, r)
	case *pb.MemberPromoteRequest:
		return s.cluster.MemberPromote(ctx, r)
	}
	panic(fmt.Sprintf("auth test: no RPC for %T", req))
}

// cred is who sends a request: its gRPC metadata on a given side.
type cred struct {
	name string
	md   func(t *testing.T, s *authSide) []string // nil: no metadata
}

var anon = cred{name: "anonymous"}

// as sends the user's latest token from that side as metadata "token", as clientv3 does.
func as(user string) cred {
	return cred{name: user, md: func(t *testing.T, s *authSide) []string {
		return []string{"token", s.token(t, user)}
	}}
}

// rawToken sends a literal token.
func rawToken(tok string) cred {
	return cred{name: "token " + strconv.Quote(tok), md: func(*testing.T, *authSide) []string { return []string{"token", tok} }}
}

// authorization sends the user's token as metadata "authorization" with a prefix ("Bearer "
// or none), as the HTTP gateway forwards it.
func authorization(prefix, user string) cred {
	return cred{name: fmt.Sprintf("authorization %q+%s's token", prefix, user), md: func(t *testing.T, s *authSide) []string {
		return []string{"authorization", prefix + s.token(t, user)}
	}}
}

func (s *authSide) token(t *testing.T, user string) string {
	tok, ok := s.tokens[user]
	if !ok {
		t.Fatalf("script error: %s never logged in to %s", user, s.name)
	}
	return tok
}

// authPair runs the script on etcd (sides[0]) and the system under test (sides[1]).
type authPair struct {
	t     *testing.T
	ctx   context.Context
	sides [2]*authSide
	step  int
	// authToken is both sides' --auth-token ("": simple tokens).
	authToken string
}

func newAuthPair(t *testing.T) *authPair { return newAuthPairWith(t, "") }

// newAuthPairWith starts both sides with bcrypt cost 4 and the given --auth-token.
func newAuthPairWith(t *testing.T, authToken string) *authPair {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := &authPair{t: t, ctx: ctx, authToken: authToken}
	etcd := etcdoracle.StartWith(t, func(c *embed.Config) {
		c.BcryptCost = 4
		if authToken != "" {
			c.AuthToken = authToken
		}
	})
	_, addr := testserver.Start(t, testserver.Options{Node: node.Config{BcryptCost: 4, AuthToken: authToken}})
	p.sides[0] = newAuthSide("etcd", etcd.Conn)
	p.sides[1] = newAuthSide("metastore", dial(t, addr))
	return p
}

func (p *authPair) jwt() bool { return strings.HasPrefix(p.authToken, "jwt") }

func dial(t *testing.T, addr string) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (p *authPair) ctxFor(s *authSide, c cred) context.Context {
	if c.md == nil {
		return p.ctx
	}
	return metadata.AppendToOutgoingContext(p.ctx, c.md(p.t, s)...)
}

// do sends req as c to both sides, requires etcd's outcome to be want (nil: success), compares
// the two outcomes, and returns both responses (nil on error), untouched by normalisation.
func (p *authPair) do(c cred, req proto.Message, want error) [2]proto.Message {
	p.t.Helper()
	p.step++
	what := fmt.Sprintf("step %d: %s: %T %v", p.step, c.name, req, req)
	var resps [2]proto.Message
	var errs [2]error
	for i, s := range p.sides {
		resps[i], errs[i] = s.invoke(p.ctxFor(s, c), req)
		if errs[i] != nil {
			resps[i] = nil
		}
	}
	if err := outcomeIs(errs[0], want); err != nil {
		p.t.Fatalf("%s\netcd disagrees with the script: %v\netcd's response: %v", what, err, resps[0])
	}
	p.compare(what, resps, errs)
	return resps
}

// outcomeIs checks an error against the expected one (nil: success) by code and message.
func outcomeIs(err, want error) error {
	switch {
	case want == nil && err == nil:
		return nil
	case want == nil:
		return fmt.Errorf("want success, got %v", err)
	case err == nil:
		return fmt.Errorf("want %v, got success", want)
	}
	ws, gs := status.Convert(want), status.Convert(err)
	if ws.Code() != gs.Code() || ws.Message() != gs.Message() {
		return fmt.Errorf("want %v, got %v", want, err)
	}
	return nil
}

// compare requires the same error (code and message), or equal responses once the header's
// cluster_id, member_id and raft_term (checked present first) and other legitimately
// differing fields (authNormalize, which checks them too) are cleared.
func (p *authPair) compare(what string, resps [2]proto.Message, errs [2]error) {
	p.t.Helper()
	if errs[0] != nil || errs[1] != nil {
		ws, gs := status.Convert(errs[0]), status.Convert(errs[1])
		if errs[0] == nil || errs[1] == nil || ws.Code() != gs.Code() || ws.Message() != gs.Message() {
			p.t.Fatalf("%s\netcd:      %v / %v\nmetastore: %v / %v", what, errs[0], resps[0], errs[1], resps[1])
		}
		return
	}
	want, got := proto.Clone(resps[0]), proto.Clone(resps[1])
	if err := authCheckHeaders(want, got); err != nil {
		p.t.Fatalf("%s\n%v\netcd:      %v\nmetastore: %v", what, err, want, got)
	}
	shape := simpleToken
	if p.jwt() {
		shape = jwtToken
	}
	for i, m := range []proto.Message{want, got} {
		if err := authNormalize(p.sides[i].name, m, shape); err != nil {
			p.t.Fatalf("%s\n%v\netcd:      %v\nmetastore: %v", what, err, resps[0], resps[1])
		}
	}
	wb, err := proto.Marshal(want)
	if err != nil {
		p.t.Fatal(err)
	}
	gb, err := proto.Marshal(got)
	if err != nil {
		p.t.Fatal(err)
	}
	if !bytes.Equal(wb, gb) {
		p.t.Fatalf("%s\netcd:      %v\nmetastore: %v", what, want, got)
	}
}

// authCheckHeaders is checkHeaders, except for MemberList whose header etcd fills without a
// revision (the revision is then compared exactly with the rest).
func authCheckHeaders(want, got proto.Message) error {
	w, ok := want.(*pb.MemberListResponse)
	if !ok {
		return checkHeaders(want, got, true)
	}
	if h := w.Header; h == nil || h.ClusterId == 0 || h.MemberId == 0 || h.RaftTerm == 0 {
		return fmt.Errorf("etcd's member list header lacks a field (zero): %v", h)
	}
	return headerLike(w.Header, got.(*pb.MemberListResponse).Header)
}

// authNormalize clears, after checking them, what legitimately differs between etcd and
// metastore: the header's identity and term (checkHeaders checked them), a token's value
// (its shape is checked), a status' versions, sizes and indexes, a member list's identities,
// a lease's remaining time, listing orders the API leaves open.
func authNormalize(who string, m proto.Message, tokenShape *regexp.Regexp) error {
	if h, ok := m.(interface{ GetHeader() *pb.ResponseHeader }); ok {
		defer clearHeader(h.GetHeader())
	}
	switch r := m.(type) {
	case *pb.AuthenticateResponse:
		if !tokenShape.MatchString(r.Token) {
			return fmt.Errorf("%s's token %q is not shaped like %s", who, r.Token, tokenShape)
		}
		r.Token = ""
	case *pb.StatusResponse:
		if r.Version == "" || r.Leader == 0 || r.Leader != r.Header.MemberId {
			return fmt.Errorf("%s's status lacks a version or names another leader than itself: %v", who, r)
		}
		*r = pb.StatusResponse{Header: r.Header}
	case *pb.MemberListResponse:
		if len(r.Members) != 1 || r.Members[0].ID != r.Header.MemberId || len(r.Members[0].ClientURLs) == 0 {
			return fmt.Errorf("%s's member list is not itself alone with its client URLs: %v", who, r)
		}
		r.Members = nil
	case *pb.LeaseTimeToLiveResponse:
		if r.TTL > 0 {
			r.TTL = 1
		}
		slices.SortFunc(r.Keys, bytes.Compare)
	case *pb.LeaseKeepAliveResponse:
		if r.TTL > 0 {
			r.TTL = 1
		}
	case *pb.LeaseLeasesResponse:
		slices.SortFunc(r.Leases, func(a, b *pb.LeaseStatus) int { return int(a.ID - b.ID) })
	}
	return nil
}

// login authenticates on both sides and keeps each side's token for that side.
func (p *authPair) login(user, password string) {
	p.t.Helper()
	resps := p.do(anon, &pb.AuthenticateRequest{Name: user, Password: password}, nil)
	for i, s := range p.sides {
		tok := resps[i].(*pb.AuthenticateResponse).Token // its shape: compare checked
		if p.jwt() {
			s.tokens[user] = tok // signed claims: two logins in a second are the same token
			continue
		}
		idx, err := strconv.ParseUint(tok[strings.IndexByte(tok, '.')+1:], 10, 64)
		if err != nil {
			p.t.Fatalf("%s's token %q: %v", s.name, tok, err)
		}
		if idx <= s.index {
			p.t.Fatalf("%s's token %q for %s: index not past the previous token's %d", s.name, tok, user, s.index)
		}
		if tok == s.tokens[user] {
			p.t.Fatalf("%s gave %s the same token twice: %q", s.name, user, tok)
		}
		s.index, s.tokens[user] = idx, tok
	}
}

// keepToken keeps each side's current token of user under another name, for use after the
// user logs in again.
func (p *authPair) keepToken(user, name string) {
	for _, s := range p.sides {
		s.tokens[name] = s.token(p.t, user)
	}
}

// authStatus requires etcd (and so metastore) to report the enabled flag and auth revision.
func (p *authPair) authStatus(c cred, enabled bool, rev uint64) {
	p.t.Helper()
	r := p.do(c, &pb.AuthStatusRequest{}, nil)[0].(*pb.AuthStatusResponse)
	if r.Enabled != enabled || r.AuthRevision != rev {
		p.t.Fatalf("step %d: etcd's auth status is %v, the script expects enabled=%v authRevision=%d", p.step, r, enabled, rev)
	}
}

// spec fails the test when etcd's answer contradicts the script.
func (p *authPair) spec(ok bool, format string, args ...any) {
	p.t.Helper()
	if !ok {
		p.t.Fatalf("step %d: etcd disagrees with the script: "+format, append([]any{p.step}, args...)...)
	}
}

func (p *authPair) userGet(c cred, user string, roles ...string) {
	p.t.Helper()
	r := p.do(c, &pb.AuthUserGetRequest{Name: user}, nil)[0].(*pb.AuthUserGetResponse)
	p.spec(slices.Equal(r.Roles, roles), "user %s has roles %q, want %q", user, r.Roles, roles)
}

func (p *authPair) roleGet(c cred, role string, perms ...*authpb.Permission) {
	p.t.Helper()
	r := p.do(c, &pb.AuthRoleGetRequest{Role: role}, nil)[0].(*pb.AuthRoleGetResponse)
	p.spec(slices.EqualFunc(r.Perm, perms, func(a, b *authpb.Permission) bool { return proto.Equal(a, b) }),
		"role %s has %v, want %v", role, r.Perm, perms)
}

func (p *authPair) userList(c cred, users ...string) {
	p.t.Helper()
	r := p.do(c, &pb.AuthUserListRequest{}, nil)[0].(*pb.AuthUserListResponse)
	p.spec(slices.Equal(r.Users, users), "users %q, want %q", r.Users, users)
}

func (p *authPair) roleList(c cred, roles ...string) {
	p.t.Helper()
	r := p.do(c, &pb.AuthRoleListRequest{}, nil)[0].(*pb.AuthRoleListResponse)
	p.spec(slices.Equal(r.Roles, roles), "roles %q, want %q", r.Roles, roles)
}

// rangeKeys reads and requires etcd to return exactly these keys.
func (p *authPair) rangeKeys(c cred, r *pb.RangeRequest, keys ...string) {
	p.t.Helper()
	resp := p.do(c, r, nil)[0].(*pb.RangeResponse)
	var got []string
	for _, kv := range resp.Kvs {
		got = append(got, string(kv.Key))
	}
	p.spec(slices.Equal(got, keys), "range returned %q, want %q", got, keys)
}

// Request builders.

func perm(t authpb.Permission_Type, key, end string) *authpb.Permission {
	return &authpb.Permission{PermType: t, Key: []byte(key), RangeEnd: []byte(end)}
}

const (
	read      = authpb.READ
	write     = authpb.WRITE
	readwrite = authpb.READWRITE
)

func grantPerm(role string, p *authpb.Permission) *pb.AuthRoleGrantPermissionRequest {
	return &pb.AuthRoleGrantPermissionRequest{Name: role, Perm: p}
}

func revokePerm(role, key, end string) *pb.AuthRoleRevokePermissionRequest {
	return &pb.AuthRoleRevokePermissionRequest{Role: role, Key: []byte(key), RangeEnd: []byte(end)}
}

func userAdd(name, password string) *pb.AuthUserAddRequest {
	return &pb.AuthUserAddRequest{Name: name, Password: password}
}

func grantRole(user, role string) *pb.AuthUserGrantRoleRequest {
	return &pb.AuthUserGrantRoleRequest{User: user, Role: role}
}

func revokeRole(user, role string) *pb.AuthUserRevokeRoleRequest {
	return &pb.AuthUserRevokeRoleRequest{Name: user, Role: role}
}

func get(key string) *pb.RangeRequest { return &pb.RangeRequest{Key: []byte(key)} }

func getRange(key, end string) *pb.RangeRequest {
	return &pb.RangeRequest{Key: []byte(key), RangeEnd: []byte(end)}
}

func put(key, val string) *pb.PutRequest { return &pb.PutRequest{Key: []byte(key), Value: []byte(val)} }

func del(key, end string) *pb.DeleteRangeRequest {
	return &pb.DeleteRangeRequest{Key: []byte(key), RangeEnd: []byte(end)}
}

func opRange(r *pb.RangeRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: r}}
}

func opPut(r *pb.PutRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: r}}
}

func opDel(r *pb.DeleteRangeRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: r}}
}

func opTxn(r *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: r}}
}

// exists compares key's version > 0.
func exists(key string) *pb.Compare {
	return &pb.Compare{Key: []byte(key), Target: pb.Compare_VERSION, Result: pb.Compare_GREATER,
		TargetUnion: &pb.Compare_Version{Version: 0}}
}

// mgmtErrors sends user and role management requests that fail without changing anything:
// the same answers with auth disabled (c anonymous) and enabled (c root). It needs user root
// and role r1 (no permissions) to exist.
func (p *authPair) mgmtErrors(c cred) {
	p.t.Helper()
	for _, s := range []struct {
		req  proto.Message
		want error
	}{
		{userAdd("", "pw"), errUserEmpty},
		{userAdd("root", "pw"), errUserExists},
		{userAdd("long", strings.Repeat("p", 73)), errPasswordTooLong},
		{&pb.AuthUserDeleteRequest{Name: "ghost"}, errUserNotFound},
		{&pb.AuthUserChangePasswordRequest{Name: "ghost", Password: "x"}, errUserNotFound},
		{&pb.AuthUserGetRequest{Name: "ghost"}, errUserNotFound},
		{grantRole("ghost", "r1"), errUserNotFound},
		{grantRole("root", "ghostrole"), errRoleNotFound},
		{revokeRole("ghost", "r1"), errUserNotFound},
		{revokeRole("root", "ghostrole"), errRoleNotGranted},
		{revokeRole("root", "r1"), errRoleNotGranted},
		{&pb.AuthRoleAddRequest{Name: ""}, errRoleEmpty},
		{&pb.AuthRoleAddRequest{Name: "r1"}, errRoleExists},
		{&pb.AuthRoleDeleteRequest{Role: "ghostrole"}, errRoleNotFound},
		{&pb.AuthRoleGetRequest{Role: "ghostrole"}, errRoleNotFound},
		{grantPerm("r1", nil), errPermNotGiven},
		{grantPerm("r1", perm(read, "", "")), errInvalidMgmt},
		{grantPerm("r1", perm(read, "", "\x00")), errInvalidMgmt},
		{grantPerm("r1", perm(read, "b", "a")), errInvalidMgmt},
		{grantPerm("r1", perm(read, "a", "a")), errInvalidMgmt},
		{grantPerm("ghostrole", perm(read, "b", "a")), errInvalidMgmt}, // range before role
		{grantPerm("ghostrole", perm(read, "a", "b")), errRoleNotFound},
		{revokePerm("ghostrole", "a", ""), errRoleNotFound},
		{revokePerm("r1", "a", ""), errPermNotGranted},
	} {
		p.do(c, s.req, s.want)
	}
}

// TestDifferentialAuthLifecycle: enabling and disabling auth, the auth revision across a
// script of mutations (failed ones and a no-op grant included), user and role management
// errors with auth disabled and as root with it enabled, the permission merge rule and
// RoleGet output, listing orders, no-password and empty-password users, a non-root admin.
func TestDifferentialAuthLifecycle(t *testing.T) {
	p := newAuthPair(t)
	root := as("root")

	// A fresh store: disabled, auth revision 1, the header at MVCC revision 1.
	r := p.do(anon, &pb.AuthStatusRequest{}, nil)[0].(*pb.AuthStatusResponse)
	p.spec(!r.Enabled && r.AuthRevision == 1 && r.Header.Revision == 1, "fresh auth status %v", r)
	p.do(anon, &pb.AuthenticateRequest{Name: "root", Password: "x"}, errNotEnabled)
	p.do(anon, &pb.AuthEnableRequest{}, errRootUserMissing)
	p.do(anon, userAdd("root", "rootpw"), nil) // 2
	p.do(anon, &pb.AuthEnableRequest{}, errRootRoleMissing)
	p.do(anon, &pb.AuthRoleAddRequest{Name: "r1"}, nil) // 3
	p.authStatus(anon, false, 3)

	p.mgmtErrors(anon)
	p.authStatus(anon, false, 3)

	// With auth disabled the root role and user may be removed.
	p.do(anon, &pb.AuthRoleAddRequest{Name: "root"}, nil) // 4
	p.do(anon, grantRole("root", "root"), nil)            // 5
	p.do(anon, grantRole("root", "root"), nil)            // no-op
	p.authStatus(anon, false, 5)
	p.roleGet(anon, "root", perm(readwrite, "", "\x00"))
	p.roleList(anon, "r1", "root")
	p.do(anon, &pb.AuthRoleDeleteRequest{Role: "root"}, nil) // 6, strips root from user root
	p.userGet(anon, "root")
	p.do(anon, &pb.AuthEnableRequest{}, errRootRoleMissing)
	p.do(anon, revokeRole("root", "root"), errRoleNotGranted)
	p.do(anon, grantRole("root", "root"), nil)               // 7: no role record needed
	p.do(anon, revokeRole("root", "root"), nil)              // 8
	p.do(anon, &pb.AuthUserDeleteRequest{Name: "root"}, nil) // 9
	p.do(anon, &pb.AuthEnableRequest{}, errRootUserMissing)
	p.do(anon, userAdd("root", "rootpw"), nil) // 10
	p.do(anon, grantRole("root", "root"), nil) // 11
	p.userGet(anon, "root", "root")
	p.roleList(anon, "r1") // the root role has no record
	p.authStatus(anon, false, 11)

	// Enable: no revision bump; from now on AuthStatus is for admins.
	p.do(anon, &pb.AuthEnableRequest{}, nil)
	p.do(anon, &pb.AuthStatusRequest{}, errUserEmpty)
	p.do(anon, &pb.AuthEnableRequest{}, errUserEmpty)
	p.login("root", "rootpw")
	p.authStatus(root, true, 11)
	p.do(root, &pb.AuthEnableRequest{}, nil) // already enabled: no-op
	p.authStatus(root, true, 11)

	p.mgmtErrors(root)
	p.do(root, &pb.AuthUserDeleteRequest{Name: "root"}, errInvalidMgmt)
	p.do(root, revokeRole("root", "root"), errInvalidMgmt)
	p.do(root, &pb.AuthRoleDeleteRequest{Role: "root"}, errInvalidMgmt) // before the existence check
	p.authStatus(root, true, 11)

	// Users and roles: listing orders (bytewise), sorted roles, a role deleted while in use.
	p.do(root, &pb.AuthUserAddRequest{Name: "nopw", Options: &authpb.UserAddOptions{NoPassword: true}}, nil) // 12
	p.do(root, userAdd("empty", ""), nil)                                                                    // 13
	p.do(root, userAdd("bob", "bobpw"), nil)                                                                 // 14
	p.do(root, userAdd("Zed", "zedpw"), nil)                                                                 // 15
	p.do(root, userAdd("alice", "alicepw"), nil)                                                             // 16
	p.userList(root, "Zed", "alice", "bob", "empty", "nopw", "root")
	p.do(root, &pb.AuthRoleAddRequest{Name: "writer"}, nil) // 17
	p.do(root, &pb.AuthRoleAddRequest{Name: "reader"}, nil) // 18
	p.do(root, &pb.AuthRoleAddRequest{Name: "Admin"}, nil)  // 19
	p.roleList(root, "Admin", "r1", "reader", "writer")
	p.do(root, grantRole("alice", "writer"), nil) // 20
	p.do(root, grantRole("alice", "reader"), nil) // 21
	p.do(root, grantRole("alice", "reader"), nil) // no-op
	p.userGet(root, "alice", "reader", "writer")
	p.userGet(root, "bob")
	p.authStatus(root, true, 21)
	p.do(root, &pb.AuthRoleDeleteRequest{Role: "reader"}, nil) // 22
	p.userGet(root, "alice", "writer")
	p.do(root, revokeRole("alice", "reader"), errRoleNotGranted)
	p.do(root, grantRole("alice", "reader"), errRoleNotFound)
	p.authStatus(root, true, 22)

	// Authenticate failures; the empty password is a password; no-password users never log in.
	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: "wrong"}, errAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "ghost", Password: "alicepw"}, errAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "nopw", Password: ""}, errNoPasswordUser)
	p.do(anon, &pb.AuthenticateRequest{Name: "nopw", Password: "x"}, errNoPasswordUser)
	p.login("empty", "")
	p.userGet(as("empty"), "empty")
	p.do(root, &pb.AuthUserChangePasswordRequest{Name: "nopw", Password: "newpw"}, nil) // 23, ignored
	p.do(anon, &pb.AuthenticateRequest{Name: "nopw", Password: "newpw"}, errNoPasswordUser)
	p.do(root, &pb.AuthUserChangePasswordRequest{Name: "empty", Password: ""}, nil) // 24: locked out
	p.do(anon, &pb.AuthenticateRequest{Name: "empty", Password: ""}, errAuthFailed)
	p.do(as("empty"), &pb.AuthUserGetRequest{Name: "empty"}, errInvalidToken)
	p.authStatus(root, true, 24)

	// A root-role user other than root is an admin, with every key, and may delete itself.
	p.do(root, userAdd("admin2", "a2pw"), nil)   // 25
	p.do(root, grantRole("admin2", "root"), nil) // 26
	p.login("admin2", "a2pw")
	p.authStatus(as("admin2"), true, 26)
	p.do(as("admin2"), put("anykey", "v"), nil)
	p.rangeKeys(as("admin2"), getRange("\x00", "\x00"), "anykey")
	p.do(as("admin2"), &pb.AuthUserDeleteRequest{Name: "admin2"}, nil) // 27
	p.do(as("admin2"), &pb.AuthStatusRequest{}, errInvalidToken)

	// The permission merge rule: an exact (key, range_end) match overwrites the type (even
	// downgrading it), anything else is appended; entries are sorted by key only.
	p.do(root, &pb.AuthRoleAddRequest{Name: "p"}, nil)          // 28
	p.do(root, grantPerm("p", perm(read, "fk", "\x00")), nil)   // 29 from-key
	p.do(root, grantPerm("p", perm(read, "\x00", "\x00")), nil) // 30 all keys
	p.do(root, grantPerm("p", perm(write, "\x00", "")), nil)    // 31 the single key "\x00"
	p.do(root, grantPerm("p", perm(readwrite, "a", "c")), nil)  // 32
	p.do(root, grantPerm("p", perm(read, "a", "c")), nil)       // 33 downgrade
	p.do(root, grantPerm("p", perm(read, "k", "")), nil)        // 34
	p.do(root, grantPerm("p", perm(read, "k", "l")), nil)       // 35
	p.do(root, grantPerm("p", perm(write, "k", "l")), nil)      // 36 a duplicate [k, l)
	p.do(root, grantPerm("p", perm(7, "z", "")), nil)           // 37 an unknown type
	p.roleGet(root, "p",
		perm(read, "\x00", "\x00"), perm(write, "\x00", ""), perm(read, "a", "c"), perm(read, "fk", "\x00"),
		perm(read, "k", ""), perm(read, "k", "l"), perm(write, "k", "l"), perm(7, "z", ""))
	p.do(root, revokePerm("p", "k", "kk"), errPermNotGranted) // a sub-range
	p.do(root, revokePerm("p", "fk", ""), errPermNotGranted)  // another range_end
	p.do(root, revokePerm("p", "k", "l"), nil)                // 38: both duplicates
	p.do(root, revokePerm("p", "a", "c"), nil)                // 39
	p.roleGet(root, "p", perm(read, "\x00", "\x00"), perm(write, "\x00", ""), perm(read, "fk", "\x00"),
		perm(read, "k", ""), perm(7, "z", ""))
	p.authStatus(root, true, 39)

	// The root role's record: RoleGet shows all keys whatever is stored.
	p.do(root, &pb.AuthRoleAddRequest{Name: "root"}, nil)   // 40
	p.do(root, grantPerm("root", perm(read, "q", "")), nil) // 41
	p.roleGet(root, "root", perm(readwrite, "", "\x00"))
	p.roleList(root, "Admin", "p", "r1", "root", "writer")
	p.do(root, &pb.AuthRoleDeleteRequest{Role: "root"}, errInvalidMgmt)
	p.authStatus(root, true, 41)

	// Disable bumps the revision; status is public again.
	p.do(root, &pb.AuthDisableRequest{}, nil) // 42
	p.authStatus(anon, false, 42)
	p.do(anon, &pb.AuthDisableRequest{}, nil) // already disabled: no-op
	p.authStatus(anon, false, 42)
	p.do(anon, &pb.AuthenticateRequest{Name: "root", Password: "rootpw"}, errNotEnabled)
}

// authWatch is one watch stream per side, opened with the same credentials (the stream's
// metadata is what the server checks each create request against).
type authWatch struct {
	p       *authPair
	who     string
	streams [2]pb.Watch_WatchClient
	msgs    [2]chan watchMsg
}

type watchMsg struct {
	r   *pb.WatchResponse
	err error
}

func (p *authPair) openWatch(c cred) *authWatch {
	p.t.Helper()
	ctx, cancel := context.WithCancel(p.ctx)
	p.t.Cleanup(cancel)
	w := &authWatch{p: p, who: c.name}
	for i, s := range p.sides {
		sctx := ctx
		if c.md != nil {
			sctx = metadata.AppendToOutgoingContext(ctx, c.md(p.t, s)...)
		}
		st, err := s.watch.Watch(sctx)
		if err != nil {
			p.t.Fatalf("%s: open a watch stream as %s: %v", s.name, c.name, err)
		}
		ch := make(chan watchMsg, 16)
		go func() {
			for {
				r, err := st.Recv()
				select {
				case ch <- watchMsg{r, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		w.streams[i], w.msgs[i] = st, ch
	}
	return w
}

// next returns each side's next watch response.
func (w *authWatch) next(what string) [2]proto.Message {
	w.p.t.Helper()
	var out [2]proto.Message
	for i, s := range w.p.sides {
		select {
		case m := <-w.msgs[i]:
			if m.err != nil {
				w.p.t.Fatalf("%s: %s's watch stream (as %s) ended: %v", what, s.name, w.who, m.err)
			}
			out[i] = m.r
		case <-time.After(10 * time.Second):
			w.p.t.Fatalf("%s: no watch response from %s within 10s", what, s.name)
		}
	}
	return out
}

// create sends a create request on both streams and compares the answers; want nil expects
// the watch created, an error expects the denial etcd sends on the still open stream:
// watch_id -1, created and canceled, the full gRPC error string as the reason.
func (w *authWatch) create(req *pb.WatchCreateRequest, want error) int64 {
	p := w.p
	p.t.Helper()
	p.step++
	what := fmt.Sprintf("step %d: %s: watch create %v", p.step, w.who, req)
	for i, st := range w.streams {
		if err := st.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: req}}); err != nil {
			p.t.Fatalf("%s: send to %s: %v", what, p.sides[i].name, err)
		}
	}
	resps := w.next(what)
	r := resps[0].(*pb.WatchResponse)
	if want == nil {
		p.spec(r.Created && !r.Canceled && r.WatchId >= 0 && r.CancelReason == "", "%s: want created, got %v", what, r)
	} else {
		p.spec(r.Created && r.Canceled && r.WatchId == -1 && r.CancelReason == want.Error(),
			"%s: want canceled with %q, got %v", what, want.Error(), r)
	}
	p.compare(what, resps, [2]error{})
	return r.WatchId
}

// event compares each side's next watch response, which etcd's script says carries events
// for watch id.
func (w *authWatch) event(id int64, keys ...string) {
	p := w.p
	p.t.Helper()
	p.step++
	what := fmt.Sprintf("step %d: %s: watch event on %d", p.step, w.who, id)
	resps := w.next(what)
	r := resps[0].(*pb.WatchResponse)
	var got []string
	for _, e := range r.Events {
		got = append(got, string(e.Kv.Key))
	}
	p.spec(r.WatchId == id && slices.Equal(got, keys), "%s: want events on %q, got %v", what, keys, r)
	p.compare(what, resps, [2]error{})
}

// TestDifferentialAuthAccess: with auth enabled, what anonymous callers, bad tokens, a user
// with read and write roles (a non-root user) and a user without roles may do, RPC by RPC:
// ranges over unions of permissions, puts with prev_kv and leases, deletes, transactions,
// leases, maintenance, membership, the Auth service itself, and watches.
func TestDifferentialAuthAccess(t *testing.T) {
	p := newAuthPair(t)
	root, alice, bob := as("root"), as("alice"), as("bob")

	// Set up with auth disabled: no tokens needed.
	for _, req := range []proto.Message{
		userAdd("root", "rootpw"), grantRole("root", "root"),
		&pb.AuthRoleAddRequest{Name: "reader"},
		grantPerm("reader", perm(read, "a", "b")),
		grantPerm("reader", perm(read, "b", "c")),
		grantPerm("reader", perm(read, "foo", "fop")), // the prefix foo
		grantPerm("reader", perm(read, "x", "\x00")),  // from x
		&pb.AuthRoleAddRequest{Name: "reader2"},
		grantPerm("reader2", perm(read, "c", "e")),
		&pb.AuthRoleAddRequest{Name: "writer"},
		grantPerm("writer", perm(write, "w", "x")),
		grantPerm("writer", perm(readwrite, "rw", "")),
		&pb.AuthRoleAddRequest{Name: "other"},
		grantPerm("other", perm(readwrite, "secret", "")),
		userAdd("alice", "alicepw"), grantRole("alice", "writer"), grantRole("alice", "reader2"), grantRole("alice", "reader"),
		userAdd("bob", "bobpw"),
		put("a1", "1"), put("b1", "1"), put("c1", "1"), put("d1", "1"), put("foo", "1"), put("foobar", "1"),
		put("fop", "1"), put("x1", "1"), put("w1", "1"), put("rw", "1"),
		&pb.LeaseGrantRequest{ID: 100, TTL: 3600},
		&pb.PutRequest{Key: []byte("secret"), Value: []byte("s"), Lease: 100},
		&pb.AuthEnableRequest{},
	} {
		p.do(anon, req, nil)
	}
	p.login("root", "rootpw")
	p.login("alice", "alicepw")
	p.login("bob", "bobpw")
	p.authStatus(root, true, 20)

	// Anonymous: every RPC family wants a user; Authenticate alone works (login above).
	for _, req := range []proto.Message{
		get("a1"), put("a1", "x"), del("a1", ""), &pb.TxnRequest{Success: []*pb.RequestOp{opRange(get("a1"))}},
		&pb.CompactionRequest{Revision: 1},
		&pb.LeaseGrantRequest{ID: 900, TTL: 3600}, &pb.LeaseRevokeRequest{ID: 100},
		&pb.LeaseTimeToLiveRequest{ID: 100}, &pb.LeaseLeasesRequest{}, &pb.LeaseKeepAliveRequest{ID: 100},
		&pb.StatusRequest{}, &pb.MemberListRequest{}, &pb.AlarmRequest{},
		&pb.HashKVRequest{}, &pb.HashRequest{}, &pb.DefragmentRequest{}, &pb.SnapshotRequest{},
		&pb.AuthStatusRequest{}, &pb.AuthUserListRequest{}, &pb.AuthRoleListRequest{},
		&pb.AuthRoleGetRequest{Role: "reader"}, &pb.AuthUserGetRequest{Name: "alice"},
		userAdd("x", "x"), &pb.AuthDisableRequest{},
	} {
		p.do(anon, req, errUserEmpty)
	}
	p.do(anon, &pb.AuthUserGetRequest{Name: ""}, errUserNotFound) // passes the self check
	// An empty key is refused before any auth check.
	for _, c := range []cred{anon, rawToken("bogus"), bob} {
		p.do(c, get(""), rpctypes.ErrGRPCEmptyKey)
		p.do(c, put("", "v"), rpctypes.ErrGRPCEmptyKey)
		p.do(c, del("", ""), rpctypes.ErrGRPCEmptyKey)
	}

	// Tokens that do not validate, whatever the RPC; Authenticate ignores them; a token may
	// come as "authorization", with or without "Bearer ".
	for _, c := range []cred{rawToken("bogus"), rawToken("abc.1"), rawToken("")} {
		for _, req := range []proto.Message{get("a1"), &pb.StatusRequest{}, &pb.LeaseGrantRequest{ID: 900, TTL: 3600},
			&pb.AuthUserGetRequest{Name: "alice"}, &pb.DefragmentRequest{}} {
			p.do(c, req, errInvalidToken)
		}
	}
	p.do(rawToken("bogus"), &pb.AuthenticateRequest{Name: "bob", Password: "bobpw"}, nil)
	p.rangeKeys(authorization("Bearer ", "alice"), get("a1"), "a1")
	p.rangeKeys(authorization("", "alice"), get("a1"), "a1")
	p.do(authorization("Bearer ", "bob"), get("a1"), errDenied)

	// The Auth service for a non-root user: itself and its own roles only.
	for _, req := range []proto.Message{
		&pb.AuthStatusRequest{}, &pb.AuthUserListRequest{}, &pb.AuthRoleListRequest{},
		&pb.AuthUserGetRequest{Name: "bob"}, &pb.AuthUserGetRequest{Name: "ghost"},
		&pb.AuthRoleGetRequest{Role: "other"}, &pb.AuthRoleGetRequest{Role: "ghostrole"},
		&pb.AuthEnableRequest{}, &pb.AuthDisableRequest{}, userAdd("", "x"), &pb.AuthRoleAddRequest{Name: "r"},
		grantRole("alice", "other"), grantPerm("reader", perm(read, "z", "")),
	} {
		p.do(alice, req, errDenied)
	}
	p.userGet(alice, "alice", "reader", "reader2", "writer")
	p.userGet(bob, "bob")
	p.roleGet(alice, "reader2", perm(read, "c", "e"))
	p.roleGet(alice, "reader", perm(read, "a", "b"), perm(read, "b", "c"), perm(read, "foo", "fop"), perm(read, "x", "\x00"))

	// Range: a point, a union of two permissions of one role, a prefix, from-key, a union
	// across roles, inverted ranges, serializable.
	p.rangeKeys(alice, get("a1"), "a1")
	p.rangeKeys(alice, getRange("a", "c"), "a1", "b1")
	p.rangeKeys(alice, getRange("foo", "fop"), "foo", "foobar")
	p.rangeKeys(alice, get("foobar"), "foobar")
	p.rangeKeys(alice, getRange("foo", "foo\x00"), "foo")
	p.do(alice, get("fop"), errDenied)
	p.do(alice, getRange("fo", "fop"), errDenied)
	p.rangeKeys(alice, getRange("x", "\x00"), "x1")
	p.do(alice, getRange("w", "\x00"), errDenied)
	p.do(alice, getRange("\x00", "\x00"), errDenied)
	p.rangeKeys(alice, getRange("a", "e"), "a1", "b1", "c1", "d1")
	p.do(alice, getRange("a", "f"), errDenied)
	p.rangeKeys(alice, getRange("b", "a")) // inverted: the point b is readable
	p.do(alice, getRange("v", "u"), errDenied)
	p.rangeKeys(alice, &pb.RangeRequest{Key: []byte("b1"), Serializable: true}, "b1")
	p.do(alice, &pb.RangeRequest{Key: []byte("w1"), Serializable: true}, errDenied)
	p.do(alice, get("w1"), errDenied) // write-only
	p.do(alice, get("secret"), errDenied)
	p.rangeKeys(alice, get("rw"), "rw")
	p.do(alice, &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c"), CountOnly: true}, nil)
	p.do(bob, get("a1"), errDenied)
	p.do(bob, put("w1", "b"), errDenied)

	// Put: prev_kv needs READ; a lease carrying a key the user cannot write is off limits.
	p.do(alice, put("w1", "2"), nil)
	p.do(alice, &pb.PutRequest{Key: []byte("w1"), Value: []byte("3"), PrevKv: true}, errDenied)
	p.do(alice, &pb.PutRequest{Key: []byte("rw"), Value: []byte("2"), PrevKv: true}, nil)
	p.do(alice, put("a1", "2"), errDenied)
	p.do(alice, &pb.PutRequest{Key: []byte("w2"), Value: []byte("l"), Lease: 100}, errDenied)
	p.do(alice, &pb.PutRequest{Key: []byte("w2"), Value: []byte("l"), Lease: 999}, rpctypes.ErrGRPCLeaseNotFound)

	// Leases: any user may grant; the attached keys decide the rest.
	p.do(alice, &pb.LeaseGrantRequest{ID: 200, TTL: 3600}, nil)
	p.do(alice, &pb.PutRequest{Key: []byte("w2"), Value: []byte("l"), Lease: 200}, nil)
	p.do(alice, &pb.LeaseTimeToLiveRequest{ID: 200, Keys: true}, errDenied) // w2 is write-only
	p.do(alice, &pb.LeaseTimeToLiveRequest{ID: 200}, nil)
	p.do(alice, &pb.LeaseTimeToLiveRequest{ID: 100, Keys: true}, errDenied)
	p.do(alice, &pb.LeaseTimeToLiveRequest{ID: 100}, nil)
	p.do(root, &pb.LeaseTimeToLiveRequest{ID: 100, Keys: true}, nil)
	p.do(alice, &pb.LeaseKeepAliveRequest{ID: 200}, nil)
	p.do(alice, &pb.LeaseKeepAliveRequest{ID: 100}, errDenied) // ends the stream
	p.do(alice, &pb.LeaseLeasesRequest{}, errDenied)
	p.do(root, &pb.LeaseLeasesRequest{}, nil)
	p.do(bob, &pb.LeaseGrantRequest{ID: 300, TTL: 3600}, nil) // no roles needed
	p.do(bob, &pb.LeaseTimeToLiveRequest{ID: 300, Keys: true}, nil)
	p.do(bob, &pb.LeaseRevokeRequest{ID: 100}, errDenied)
	p.do(alice, &pb.LeaseRevokeRequest{ID: 100}, errDenied)
	p.do(alice, &pb.LeaseRevokeRequest{ID: 999}, errLeaseNotFound)
	p.do(alice, &pb.LeaseRevokeRequest{ID: 200}, nil) // deletes w2
	p.do(bob, &pb.LeaseRevokeRequest{ID: 300}, nil)

	// DeleteRange: WRITE on the range, and READ too with prev_kv.
	p.do(alice, &pb.DeleteRangeRequest{Key: []byte("w1"), PrevKv: true}, errDenied)
	p.do(alice, del("a1", ""), errDenied)
	p.do(alice, del("w", "y"), errDenied)
	p.do(alice, put("w3", "1"), nil)
	p.do(alice, del("w3", ""), nil)
	p.do(alice, put("w3", "1"), nil)
	p.do(alice, del("w", "x"), nil) // w1 and w3
	p.do(alice, &pb.DeleteRangeRequest{Key: []byte("rw"), PrevKv: true}, nil)

	// Txn: every compare and both branches, recursively, whichever runs.
	p.do(alice, &pb.TxnRequest{Compare: []*pb.Compare{exists("secret")}, Success: []*pb.RequestOp{opPut(put("w1", "t"))}}, errDenied)
	p.do(alice, &pb.TxnRequest{Compare: []*pb.Compare{exists("a1")},
		Success: []*pb.RequestOp{opPut(put("w1", "t"))}, Failure: []*pb.RequestOp{opPut(put("a1", "t"))}}, errDenied)
	p.do(alice, &pb.TxnRequest{Compare: []*pb.Compare{exists("a1")},
		Success: []*pb.RequestOp{opPut(put("w1", "t"))}, Failure: []*pb.RequestOp{opRange(get("b1"))}}, nil)
	p.do(alice, &pb.TxnRequest{Compare: []*pb.Compare{exists("a1")},
		Success: []*pb.RequestOp{opRange(getRange("a", "e"))}, Failure: []*pb.RequestOp{opRange(get("foo"))}}, nil) // read-only
	p.do(alice, &pb.TxnRequest{Success: []*pb.RequestOp{opRange(get("a1"))}, Failure: []*pb.RequestOp{opRange(get("secret"))}}, errDenied)
	p.do(alice, &pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{
		Compare: []*pb.Compare{exists("c1")},
		Success: []*pb.RequestOp{opPut(put("w4", "n"))}, Failure: []*pb.RequestOp{opRange(get("c1"))}})}}, nil)
	p.do(alice, &pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{
		Success: []*pb.RequestOp{opPut(put("w4", "n"))}, Failure: []*pb.RequestOp{opPut(put("secret", "n"))}})}}, errDenied)
	p.do(alice, &pb.TxnRequest{Success: []*pb.RequestOp{opPut(&pb.PutRequest{Key: []byte("w4"), PrevKv: true})}}, errDenied)
	p.do(alice, &pb.TxnRequest{Success: []*pb.RequestOp{opDel(&pb.DeleteRangeRequest{Key: []byte("w4"), PrevKv: true})}}, errDenied)
	p.do(alice, &pb.TxnRequest{Success: []*pb.RequestOp{opDel(del("w4", ""))}}, nil)
	p.do(bob, &pb.TxnRequest{}, nil) // nothing to check

	// Maintenance and membership: admin-only except Status, MemberList and Alarm GET.
	for _, req := range []proto.Message{
		&pb.CompactionRequest{Revision: 1}, &pb.HashRequest{}, &pb.HashKVRequest{}, &pb.DefragmentRequest{},
		&pb.SnapshotRequest{}, &pb.MoveLeaderRequest{TargetID: 1},
		&pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: 1, Alarm: pb.AlarmType_NOSPACE},
		&pb.AlarmRequest{Action: pb.AlarmRequest_DEACTIVATE, MemberID: 1, Alarm: pb.AlarmType_NOSPACE},
		&pb.DowngradeRequest{Action: pb.DowngradeRequest_CANCEL},
		&pb.MemberAddRequest{PeerURLs: []string{"http://127.0.0.1:1"}}, &pb.MemberRemoveRequest{ID: 1},
		&pb.MemberUpdateRequest{ID: 1, PeerURLs: []string{"http://127.0.0.1:1"}}, &pb.MemberPromoteRequest{ID: 1},
	} {
		p.do(alice, req, errDenied)
	}
	for _, c := range []cred{alice, bob, root} {
		p.do(c, &pb.StatusRequest{}, nil)
		p.do(c, &pb.MemberListRequest{}, nil)
		p.do(c, &pb.AlarmRequest{}, nil)
	}
	p.do(root, &pb.CompactionRequest{Revision: 2}, nil)

	// Permissions are evaluated live: a role change takes effect on the same token.
	p.do(root, revokeRole("alice", "reader2"), nil)
	p.do(alice, getRange("a", "e"), errDenied)
	p.rangeKeys(alice, getRange("a", "c"), "a1", "b1")
	p.do(root, grantRole("alice", "reader2"), nil)
	p.rangeKeys(alice, getRange("a", "e"), "a1", "b1", "c1", "d1")

	// Watch: a denied create is answered on the stream, which stays open.
	w := p.openWatch(alice)
	wa := w.create(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("c")}, nil)
	w.create(&pb.WatchCreateRequest{Key: []byte("secret")}, errDenied)
	w.create(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("e\x00")}, errDenied)
	w.create(&pb.WatchCreateRequest{Key: []byte("")}, errDenied) // the key "\x00"
	wf := w.create(&pb.WatchCreateRequest{Key: []byte("foo"), RangeEnd: []byte("fop"), PrevKv: true}, nil)
	wx := w.create(&pb.WatchCreateRequest{Key: []byte("x"), RangeEnd: []byte("\x00")}, nil)
	p.do(root, put("secret", "unseen"), nil)
	p.do(root, put("a1", "seen"), nil)
	w.event(wa, "a1")
	p.do(root, put("foobar", "seen"), nil)
	w.event(wf, "foobar")
	// Revoking the permission does not cancel a watch already created.
	p.do(root, revokePerm("reader", "a", "b"), nil)
	p.do(alice, get("a1"), errDenied)
	p.do(root, put("a1", "still seen"), nil)
	w.event(wa, "a1")
	p.do(root, put("x2", "seen"), nil)
	w.event(wx, "x2")
	w.create(&pb.WatchCreateRequest{Key: []byte("a1")}, errDenied)

	for _, c := range []struct {
		cred cred
		want error
	}{{anon, errUserEmpty}, {rawToken("bogus"), errInvalidToken}, {bob, errDenied}} {
		w := p.openWatch(c.cred)
		w.create(&pb.WatchCreateRequest{Key: []byte("b1")}, c.want)
		w.create(&pb.WatchCreateRequest{Key: []byte("x"), RangeEnd: []byte("\x00")}, c.want)
	}
	// Root watches anything.
	wr := p.openWatch(root)
	all := wr.create(&pb.WatchCreateRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00")}, nil)
	p.do(root, put("secret", "seen"), nil)
	wr.event(all, "secret")
}

// TestDifferentialAuthTokens: simple tokens — their shape and growing index, which changes
// invalidate them (password change, user deletion, auth disable) and which do not (role and
// permission changes), Authenticate's errors, tokens ignored while auth is disabled and not
// revived by re-enabling it.
func TestDifferentialAuthTokens(t *testing.T) {
	p := newAuthPair(t)
	root, alice, carol := as("root"), as("alice"), as("carol")

	for _, req := range []proto.Message{
		userAdd("root", "rootpw"), grantRole("root", "root"),
		&pb.AuthRoleAddRequest{Name: "rw"}, grantPerm("rw", perm(readwrite, "k", "l")),
		userAdd("alice", "alicepw"), grantRole("alice", "rw"),
		userAdd("carol", "carolpw"), grantRole("carol", "rw"),
		&pb.AuthUserAddRequest{Name: "nopw", Options: &authpb.UserAddOptions{NoPassword: true}},
		put("k1", "v"),
		&pb.AuthEnableRequest{},
	} {
		p.do(anon, req, nil)
	}

	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: "wrong"}, errAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: ""}, errAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "ghost", Password: "alicepw"}, errAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "nopw", Password: ""}, errNoPasswordUser)
	p.do(anon, &pb.AuthenticateRequest{Name: "nopw", Password: "x"}, errNoPasswordUser)
	p.do(anon, &pb.AuthenticateRequest{Name: "", Password: ""}, errAuthFailed)
	p.login("alice", "alicepw")
	p.keepToken("alice", "alice's first")
	p.login("alice", "alicepw") // a new token, a later index; both valid
	p.rangeKeys(as("alice's first"), get("k1"), "k1")
	p.login("root", "rootpw")
	p.login("carol", "carolpw")
	p.authStatus(root, true, 10)
	p.rangeKeys(alice, get("k1"), "k1")

	// Role and permission changes leave tokens valid; the permissions apply live.
	p.do(root, revokePerm("rw", "k", "l"), nil)
	p.do(alice, get("k1"), errDenied)
	p.do(root, grantPerm("rw", perm(read, "k", "l")), nil)
	p.rangeKeys(alice, get("k1"), "k1")
	p.do(alice, put("k1", "v2"), errDenied)
	p.do(root, revokeRole("alice", "rw"), nil)
	p.do(alice, get("k1"), errDenied)
	p.do(root, grantRole("alice", "rw"), nil)
	p.do(root, &pb.AuthRoleDeleteRequest{Role: "rw"}, nil)
	p.do(alice, get("k1"), errDenied)
	p.userGet(alice, "alice")
	p.do(root, &pb.AuthRoleAddRequest{Name: "rw"}, nil)
	p.do(root, grantPerm("rw", perm(readwrite, "k", "l")), nil)
	p.do(root, grantRole("alice", "rw"), nil)
	p.do(root, grantRole("carol", "rw"), nil)
	p.do(alice, put("k1", "v2"), nil)
	p.authStatus(root, true, 19)

	// A password change kills the user's tokens (only theirs); the old password fails.
	p.do(root, &pb.AuthUserChangePasswordRequest{Name: "alice", Password: "alicepw2"}, nil)
	p.do(alice, get("k1"), errInvalidToken)
	p.do(as("alice's first"), get("k1"), errInvalidToken)
	p.do(alice, &pb.LeaseGrantRequest{ID: 1, TTL: 3600}, errInvalidToken)
	p.do(alice, &pb.AuthUserGetRequest{Name: "alice"}, errInvalidToken)
	p.rangeKeys(carol, get("k1"), "k1")
	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: "alicepw"}, errAuthFailed)
	p.login("alice", "alicepw2")
	p.rangeKeys(alice, get("k1"), "k1")
	// Changing one's own password as a non-admin is an admin operation.
	p.do(alice, &pb.AuthUserChangePasswordRequest{Name: "alice", Password: "x"}, errDenied)

	// Deleting a user kills its tokens.
	p.do(root, &pb.AuthUserDeleteRequest{Name: "carol"}, nil)
	p.do(carol, get("k1"), errInvalidToken)
	p.do(carol, &pb.StatusRequest{}, errInvalidToken)
	w := p.openWatch(carol)
	w.create(&pb.WatchCreateRequest{Key: []byte("k1")}, errInvalidToken)
	p.authStatus(root, true, 21)

	// Disabling kills every token and makes tokens irrelevant; re-enabling revives none.
	p.do(alice, &pb.AuthDisableRequest{}, errDenied)
	p.do(root, &pb.AuthDisableRequest{}, nil)
	p.authStatus(anon, false, 22)
	p.authStatus(alice, false, 22)
	p.authStatus(rawToken("bogus"), false, 22)
	p.do(alice, put("zzz", "v"), nil)
	p.do(rawToken("bogus"), get("zzz"), nil)
	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: "alicepw2"}, errNotEnabled)
	p.do(anon, &pb.AuthEnableRequest{}, nil)
	p.do(alice, get("k1"), errInvalidToken)
	p.do(root, &pb.AuthStatusRequest{}, errInvalidToken)
	p.login("root", "rootpw")
	p.authStatus(root, true, 22)
	p.login("alice", "alicepw2")
	p.rangeKeys(alice, get("k1"), "k1")
}
