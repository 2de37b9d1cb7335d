package node

import (
	"context"
	"encoding/base64"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/server/raftreq"
)

// Credentials are what a request carries to say who sends it: a token (from a login), or
// the common name of a verified client certificate. The API edge puts them in the request's
// context (WithCredentials); the member resolves them to a user only where etcd does, after
// the request's own checks, so a malformed request gets its own error whoever sends it.
type Credentials struct {
	// Token is the token the request carries; HasToken tells an empty one from none.
	Token    string
	HasToken bool
	// CommonName is the verified client certificate's CN, used when there is no token.
	CommonName string
	HasCN      bool
	// member: a request another member forwarded, having checked it; served as root.
	member bool
}

type credentialsKey struct{}

// WithCredentials returns ctx carrying c.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// authInfo resolves a request's credentials (etcd's AuthInfoFromCtx). Auth disabled: nobody
// and no error, whatever the request carries. A token that is not live is refused (there is
// no falling back to the certificate). No credentials: the zero AuthInfo, which the checks
// refuse where they need a user.
func (n *Node) authInfo(ctx context.Context) (core.AuthInfo, error) {
	s := n.Store()
	if !s.AuthEnabled() {
		return core.AuthInfo{}, nil
	}
	c, _ := ctx.Value(credentialsKey{}).(Credentials)
	switch {
	case c.member:
		return core.AuthInfo{Username: "root", Revision: s.AuthRevision()}, nil
	case c.HasToken:
		return n.tokenInfo(ctx, c.Token)
	case c.HasCN:
		return core.AuthInfo{Username: c.CommonName, Revision: s.AuthRevision()}, nil
	}
	return core.AuthInfo{}, nil
}

// tokenInfo looks a token up, once this member has applied the login that made a simple
// token (a client may log in through another member and come here first).
func (n *Node) tokenInfo(ctx context.Context, token string) (core.AuthInfo, error) {
	index, ok := n.tokens.waitIndex(token)
	if !ok {
		return core.AuthInfo{}, auth.ErrInvalidAuthToken
	}
	if index > n.AppliedIndex() {
		expired, stop := clock.After(n.cfg.Clock, n.requestTimeout())
		defer stop()
		select {
		case <-n.w.appliedAt(index):
		case <-expired:
			return core.AuthInfo{}, auth.ErrInvalidAuthToken
		case <-ctx.Done():
			return core.AuthInfo{}, auth.ErrInvalidAuthToken
		case <-n.stopc:
			return core.AuthInfo{}, ErrStopped
		}
	}
	user, rev, ok := n.tokens.info(token, n.Store().AuthRevision())
	if !ok {
		return core.AuthInfo{}, auth.ErrInvalidAuthToken
	}
	return core.AuthInfo{Username: user, Revision: rev}, nil
}

// CheckAuthenticated refuses a request without credentials while auth is on (Status,
// MemberList, an alarm list: anyone logged in may ask).
func (n *Node) CheckAuthenticated(ctx context.Context) error {
	ai, err := n.authInfo(ctx)
	if err != nil {
		return err
	}
	return n.Store().CheckAuthenticated(ai)
}

// CheckAdmin refuses a request from anyone but an administrator while auth is on.
func (n *Node) CheckAdmin(ctx context.Context) error {
	ai, err := n.authInfo(ctx)
	if err != nil {
		return err
	}
	return n.Store().CheckAdmin(ai)
}

// CheckWatch checks a watch on [key, end) may be created (later permission changes do not
// end it, as in etcd).
func (n *Node) CheckWatch(ctx context.Context, key, end []byte) error {
	ai, err := n.authInfo(ctx)
	if err != nil {
		return err
	}
	return n.Store().CheckRange(ai, key, end)
}

// authResult is what applying an auth request produced: the response, and a login's token.
type authResult struct {
	resp  *core.AuthResponse
	token string
}

// Auth makes one auth request other than a login. A new password is hashed here, before
// proposing, so no password enters the log: for a user added with one (an empty one too,
// as etcd), and for a password change that gives one (else the request's own
// HashedPassword is used, as etcd's).
func (n *Node) Auth(ctx context.Context, r *core.AuthRequest, password string) (*core.AuthResponse, error) {
	req := *r
	if (r.Op == core.AuthUserAdd && !r.NoPassword) || (r.Op == core.AuthUserChangePassword && password != "") {
		hash, err := auth.HashPassword(password, n.cfg.BcryptCost)
		if err != nil {
			return nil, err
		}
		req.HashedPassword = base64.StdEncoding.EncodeToString(hash)
	}
	res, err := proposeFor[authResult](ctx, n, &raftreq.Request{Auth: &req})
	return res.resp, err
}

// Authenticate logs a user in and returns their token. The password is checked here,
// outside the log; the login entry carries the token's random letters only. Should the auth
// store change between the check and the login (the password, say), the check is made again.
func (n *Node) Authenticate(ctx context.Context, name, password string) (*core.AuthResponse, string, error) {
	if err := n.LinearizableRead(ctx); err != nil {
		return nil, "", err
	}
	// A login ignores whatever token the request carries, as etcd's.
	ctx = WithCredentials(ctx, Credentials{})
	for {
		s := n.Store()
		rev, err := s.CheckPassword(name, password)
		if err != nil {
			return nil, "", err
		}
		req := &raftreq.Request{Auth: &core.AuthRequest{Op: core.Authenticate, Name: name, SimpleToken: n.tokens.prefix()}}
		res, err := proposeFor[authResult](ctx, n, req)
		if err != nil {
			return nil, "", err
		}
		if n.Store().AuthRevision() == rev {
			return res.resp, res.token, nil
		}
	}
}

// applyAuth applies an auth request from ai at index; the member's tokens follow the
// store: a login makes one, a password change or deletion ends the user's, disabling auth
// ends all.
func (n *Node) applyAuth(index uint64, ai core.AuthInfo, r *core.AuthRequest) (authResult, error) {
	resp, err := n.Store().Auth(ai, r)
	if err != nil {
		return authResult{}, err
	}
	res := authResult{resp: resp}
	switch r.Op {
	case core.Authenticate:
		if index <= n.r.bootLast {
			// A login from before this member restarted, replayed from its log: a restart
			// logs everyone out, as in etcd (else a crash would revive expired tokens).
			break
		}
		if res.token, err = n.tokens.assign(r.SimpleToken, index, n.Store().AuthRevision(), r.Name); err != nil {
			return authResult{}, err
		}
	case core.AuthDisable:
		n.tokens.dropAll()
	case core.AuthUserDelete, core.AuthUserChangePassword:
		n.tokens.dropUser(r.Name)
	}
	return res, nil
}

// withAuthInfo fills in who proposes r (resolved from ctx) unless it is already set.
func (n *Node) withAuthInfo(ctx context.Context, r *raftreq.Request) error {
	if r.Username != "" || r.AuthRevision != 0 {
		return nil
	}
	ai, err := n.authInfo(ctx)
	if err != nil {
		return err
	}
	r.Username, r.AuthRevision = ai.Username, ai.Revision
	return nil
}

// asRoot marks a proposal the member makes itself (a lease expiring), as etcd's WithRoot:
// no user's permissions apply to it.
func (n *Node) asRoot(r *raftreq.Request) *raftreq.Request {
	r.Username, r.AuthRevision = "root", n.Store().AuthRevision()
	return r
}

// checkApply is the check etcd makes when it applies a write, with the user and auth
// revision it was proposed with: a permission change in between counts.
func checkApply(s *core.Store, r *raftreq.Request) error {
	ai := core.AuthInfo{Username: r.Username, Revision: r.AuthRevision}
	switch {
	case r.Put != nil:
		return s.CheckPut(ai, r.Put)
	case r.DeleteRange != nil:
		return s.CheckDeleteRange(ai, r.DeleteRange)
	case r.Txn != nil:
		return s.CheckTxn(ai, r.Txn)
	case r.LeaseRevoke != nil:
		return s.CheckLease(ai, r.LeaseRevoke.ID)
	}
	return nil
}
