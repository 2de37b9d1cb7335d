//go:build !js

package browser

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// authMember is a member the browser auth tests set up from Go: user root (rootpw), a role
// "reader" that reads app/, the user alice with it, the keys app/a and secret/x (and more),
// then auth on.
type authMember struct {
	t        *testing.T
	endpoint string
	tls      *tls.Config
}

// dial is a clientv3 client on the member, logged in as user unless user is "".
func (m authMember) dial(user, password string) *clientv3.Client {
	m.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.endpoint}, DialTimeout: 5 * time.Second,
		TLS: m.tls, Username: user, Password: password})
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { cli.Close() })
	return cli
}

// setupAuth creates root, the reader role, alice (alicePassword) and the keys (app/a, then
// extra key=value pairs, then secret/x), and enables auth.
func setupAuth(t *testing.T, endpoint string, tlsConf *tls.Config, alicePassword string, extra ...string) authMember {
	t.Helper()
	m := authMember{t: t, endpoint: endpoint, tls: tlsConf}
	setup := m.dial("", "")
	bg := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(setup.UserAdd(bg, "root", "rootpw"))
	must(setup.UserGrantRole(bg, "root", "root"))
	must(setup.RoleAdd(bg, "reader"))
	must(setup.RoleGrantPermission(bg, "reader", "app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermRead)))
	must(setup.UserAdd(bg, "alice", alicePassword))
	must(setup.UserGrantRole(bg, "alice", "reader"))
	must(setup.Put(bg, "app/a", "1"))
	for i := 0; i+1 < len(extra); i += 2 {
		must(setup.Put(bg, extra[i], extra[i+1]))
	}
	must(setup.Put(bg, "secret/x", "s"))
	must(setup.AuthEnable(bg))
	return m
}
