//go:build !js

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testcerts"
)

// The auth end-to-end tests drive a metastore process with real clients (etcdctl, clientv3,
// HTTP) and, where the behaviour is etcd's to define, run the same script against a real
// etcd (started in-process by etcdoracle) and compare what the clients saw. The raw-gRPC
// comparison of every Auth RPC is tests/differential/auth_test.go; these tests are about
// what goes through the clients, the process and the network: etcdctl's output, token
// expiry and re-authentication, restarts, client certificates and the JSON gateway.

// authBcryptCost is the bcrypt cost both servers hash passwords with: the lowest, for speed.
const authBcryptCost = 4

// startAuthEtcd starts a real etcd with the cheap bcrypt cost, adjusted by configure.
func startAuthEtcd(t *testing.T, configure func(*embed.Config)) *etcdoracle.Etcd {
	t.Helper()
	return etcdoracle.StartWith(t, func(c *embed.Config) {
		c.BcryptCost = authBcryptCost
		if configure != nil {
			configure(c)
		}
	})
}

// startAuthMember starts a metastore process with the cheap bcrypt cost and extra flags.
func startAuthMember(t *testing.T, extra ...string) *member {
	t.Helper()
	return startMember(t, append([]string{"--bcrypt-cost", fmt.Sprint(authBcryptCost)}, extra...)...)
}

// simpleTokenRE is the shape of a simple token: 16 letters, a dot, a Raft index.
var simpleTokenRE = regexp.MustCompile(`^[A-Za-z]{16}\.[0-9]+$`)

// ctlResult is what one etcdctl run printed on each stream, and its exit code.
type ctlResult struct {
	stdout, stderr string
	code           int
}

func (r ctlResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// runAuthCtl runs the real etcdctl against endpoint (host:port or a URL) with stdin.
func runAuthCtl(endpoint, stdin string, args ...string) (ctlResult, error) {
	c, cancel := context.WithTimeout(context.Background(), 2*pollTimeout)
	defer cancel()
	cmd := exec.CommandContext(c, bins.etcdctl, append([]string{"--endpoints", endpoint,
		"--dial-timeout=10s", "--command-timeout=" + pollTimeout.String()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := ctlResult{stdout: o.String(), stderr: e.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		r.code = ee.ExitCode()
	default:
		return r, fmt.Errorf("etcdctl %q: %v (%s)", args, err, r)
	}
	return r, nil
}

// ctlStep is one etcdctl command of a script run against etcd and metastore. code and want
// state what etcd does (the spec, docs/research/etcd-auth.md §6.1): a wrong script fails on
// etcd's side, so the comparison cannot pass vacuously (both refusing to connect, say).
type ctlStep struct {
	stdin string
	args  []string
	code  int    // the exit code
	want  string // a substring of stdout (code 0) or of stderr (otherwise)
}

// compareCtl runs each step with etcdctl against etcd and against metastore (the endpoints
// in that order), checks etcd's outcome against the step's expectations, and reports
// every step where metastore's normalised output differs from etcd's.
func compareCtl(t *testing.T, etcd, ms string, steps []ctlStep) {
	t.Helper()
	for i, st := range steps {
		var res [2]ctlResult
		var errs [2]error
		var wg sync.WaitGroup
		for j, ep := range []string{etcd, ms} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[j], errs[j] = runAuthCtl(ep, st.stdin, st.args...)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		what := fmt.Sprintf("step %d: etcdctl %q", i, st.args)
		if st.stdin != "" {
			what += fmt.Sprintf(" <<< %q", st.stdin)
		}
		stream := res[0].stdout
		if st.code != 0 {
			stream = res[0].stderr
		}
		if res[0].code != st.code || !strings.Contains(stream, st.want) {
			t.Fatalf("%s: the script is wrong about etcd: etcd gave %s; the script expects exit %d and %q", what, res[0], st.code, st.want)
		}
		var norm [2]ctlResult
		for j, r := range res {
			n, err := normalizeCtl(r, st.args)
			if err != nil {
				t.Fatalf("%s: %s's output: %v (%s)", what, []string{"etcd", "metastore"}[j], err, r)
			}
			norm[j] = n
		}
		if norm[0] != norm[1] {
			t.Errorf("%s differs:\n  etcd:      %s\n  metastore: %s", what, res[0], res[1])
		}
	}
}

// normalizeCtl removes from etcdctl's output only what must differ between two servers:
// with -w json, the header's cluster_id, member_id and raft_term (which must be there);
// on stderr, the timestamp, caller, connection target and addresses of the client's log
// lines.
func normalizeCtl(r ctlResult, args []string) (ctlResult, error) {
	if jsonOutput(args) && r.code == 0 {
		v, err := decodeJSON([]byte(r.stdout))
		if err != nil {
			return r, err
		}
		if err := dropHeaderIDs(v, true); err != nil {
			return r, err
		}
		b, _ := json.Marshal(v)
		r.stdout = string(b)
	}
	var lines []string
	for _, l := range strings.SplitAfter(r.stderr, "\n") {
		if strings.HasPrefix(l, `{"level":`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				return r, fmt.Errorf("log line %q: %v", l, err)
			}
			for _, k := range []string{"ts", "caller", "target", "peer"} {
				delete(m, k)
			}
			b, _ := json.Marshal(m)
			l = string(b) + "\n"
		}
		lines = append(lines, l)
	}
	r.stderr = strings.Join(lines, "")
	return r, nil
}

func jsonOutput(args []string) bool {
	for i, a := range args {
		if a == "--write-out=json" || a == "-w=json" || ((a == "-w" || a == "--write-out") && i+1 < len(args) && args[i+1] == "json") {
			return true
		}
	}
	return false
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// dropHeaderIDs deletes cluster_id, member_id and raft_term from the top-level "header",
// after checking they are there and not zero (need: whether a header must be there).
func dropHeaderIDs(v any, need bool) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("not a JSON object: %v", v)
	}
	h, ok := m["header"].(map[string]any)
	if !ok {
		if need {
			return errors.New("no header")
		}
		return nil
	}
	for _, f := range []string{"cluster_id", "member_id", "raft_term"} {
		s := fmt.Sprint(h[f])
		if h[f] == nil || s == "" || s == "0" {
			return fmt.Errorf("header lacks %s: %v", f, h)
		}
		delete(h, f)
	}
	return nil
}

// TestAuthEtcdctl runs one etcdctl script against a real etcd and a metastore process and
// compares every command's stdout, stderr and exit code: user and role management, the
// rendering of permissions, auth enable/status/disable, key access as users with and without
// the permissions, wrong passwords, and the guards around root.
func TestAuthEtcdctl(t *testing.T) {
	etcd := startAuthEtcd(t, nil)
	m := startAuthMember(t)
	root := []string{"--user", "root:pw"}
	with := func(args []string, extra ...string) []string { return append(append([]string{}, args...), extra...) }
	alice := []string{"--user", "alice:apw"}
	steps := []ctlStep{
		{"", []string{"auth", "status"}, 0, "Authentication Status: false\nAuthRevision: 1\n"},
		{"", []string{"auth", "status", "-w", "json"}, 0, `"authRevision":1`},
		{"", []string{"user", "add", "root:pw"}, 0, "User root created\n"},
		{"", []string{"user", "add", "root:other"}, 1, "Error: etcdserver: user name already exists"},
		{"", []string{"user", "add", "alice:apw"}, 0, "User alice created\n"},
		{"bpw\n", []string{"user", "add", "bob", "--interactive=false"}, 0, "User bob created\n"},
		{"", []string{"user", "add", "carol", "--no-password"}, 0, "User carol created\n"},
		{"", []string{"user", "add", ":x"}, 128, "empty user name is not allowed"},
		{"", []string{"role", "add", "r"}, 0, "Role r created\n"},
		{"", []string{"role", "add", "r"}, 1, "Error: etcdserver: role name already exists"},
		{"", []string{"role", "add", "wide"}, 0, "Role wide created\n"},
		{"", []string{"role", "grant-permission", "r", "read", "foo", "--prefix"}, 0, "Role r updated\n"},
		{"", []string{"role", "grant-permission", "r", "write", "a", "c"}, 0, "Role r updated\n"},
		{"", []string{"role", "grant-permission", "r", "readwrite", "k"}, 0, "Role r updated\n"},
		{"", []string{"role", "grant-permission", "r", "read", "m", "--from-key"}, 0, "Role r updated\n"},
		{"", []string{"role", "grant-permission", "r", "bogus", "k"}, 128, "invalid permission type: bogus"},
		{"", []string{"role", "grant-permission", "r", "read", "k", "--prefix", "--from-key"}, 128, "mutually exclusive"},
		{"", []string{"role", "grant-permission", "r", "read", "", "--prefix", "--from-key"}, 128, "mutually exclusive"},
		{"", []string{"role", "grant-permission", "r", "read", "c", "a"}, 1, "Error: etcdserver: invalid auth management"},
		{"", []string{"role", "grant-permission", "nosuch", "read", "k"}, 1, "Error: etcdserver: role name not found"},
		// The empty key: etcdctl sends "\x00"; with --prefix or --from-key, all keys.
		{"", []string{"role", "grant-permission", "wide", "readwrite", "", "--from-key"}, 0, "Role wide updated\n"},
		{"", []string{"role", "grant-permission", "wide", "read", "", "--prefix"}, 0, "Role wide updated\n"}, // the same range: a downgrade
		{"", []string{"role", "grant-permission", "wide", "write", ""}, 0, "Role wide updated\n"},
		{"", []string{"role", "grant-permission", "wide", "write", "b", "--from-key"}, 0, "Role wide updated\n"},
		{"", []string{"role", "grant-permission", "wide", "readwrite", "\xff\xff", "--prefix"}, 0, "Role wide updated\n"},
		{"", []string{"role", "get", "r"}, 0, "Role r\nKV Read:\n\t[foo, fop) (prefix foo)\n\tk\n\t[m, <open ended>\nKV Write:\n\t[a, c)\n\tk\n"},
		{"", []string{"role", "get", "wide"}, 0, "Role wide\nKV Read:\n\t[\x00, <open ended>\n"},
		{"", []string{"role", "get", "r", "-w", "json"}, 0, `"perm":[`},
		{"", []string{"role", "get", "nosuch"}, 1, "Error: etcdserver: role name not found"},
		{"", []string{"user", "grant-role", "alice", "r"}, 0, "Role r is granted to user alice\n"},
		{"", []string{"user", "grant-role", "alice", "r"}, 0, "Role r is granted to user alice\n"},
		{"", []string{"user", "grant-role", "bob", "wide"}, 0, "Role wide is granted to user bob\n"},
		{"", []string{"user", "grant-role", "bob", "r"}, 0, "Role r is granted to user bob\n"},
		{"", []string{"user", "grant-role", "alice", "nosuch"}, 1, "Error: etcdserver: role name not found"},
		{"", []string{"user", "grant-role", "nobody", "r"}, 1, "Error: etcdserver: user name not found"},
		{"", []string{"user", "get", "alice"}, 0, "User: alice\nRoles: r\n"},
		{"", []string{"user", "get", "bob"}, 0, "User: bob\nRoles: r wide\n"},
		{"", []string{"user", "get", "alice", "--detail"}, 0, "User: alice\n\nRole r\nKV Read:\n"},
		{"", []string{"user", "get", "bob", "--detail"}, 0, "Role wide\n"},
		{"", []string{"user", "get", "alice", "-w", "json"}, 0, `"roles":["r"]`},
		{"", []string{"user", "get", "carol"}, 0, "User: carol\nRoles:"},
		{"", []string{"user", "get", "carol", "-w", "json"}, 0, `"header"`},
		{"", []string{"user", "get", "nobody"}, 1, "Error: etcdserver: user name not found"},
		{"", []string{"user", "list"}, 0, "alice\nbob\ncarol\nroot\n"},
		{"", []string{"role", "list"}, 0, "r\nwide\n"},
		{"", []string{"put", "foo", "bar"}, 0, "OK\n"},
		// auth enable grants root the role root, creating it.
		{"", []string{"auth", "enable"}, 0, "Authentication Enabled\n"},
		{"", []string{"auth", "status"}, 1, "Error: etcdserver: user name is empty"},
		{"", with([]string{"auth", "status"}, root...), 0, "Authentication Status: true\nAuthRevision: "},
		{"", with([]string{"auth", "status", "-w", "json"}, root...), 0, `"enabled":true`},
		{"", []string{"auth", "status", "--user", "root", "--password", "pw"}, 0, "Authentication Status: true\n"},
		{"", with([]string{"role", "list"}, root...), 0, "r\nroot\nwide\n"},
		{"", with([]string{"role", "get", "root"}, root...), 0, "Role root\nKV Read:\n\t[, <open ended>\nKV Write:\n\t[, <open ended>\n"},
		{"", with([]string{"user", "get", "root"}, root...), 0, "User: root\nRoles: root\n"},
		{"", with([]string{"auth", "enable"}, root...), 0, "Authentication Enabled\n"},
		// Key access as alice: read foo…, write [a, c), readwrite k, read from m.
		{"", with([]string{"get", "foo"}, alice...), 0, "foo\nbar\n"},
		{"", []string{"get", "foo", "--user", "alice", "--password", "apw"}, 0, "foo\nbar\n"},
		{"", with([]string{"get", "foo", "--prefix"}, alice...), 0, "foo\nbar\n"},
		{"", with([]string{"put", "foo", "x"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"put", "b", "x"}, alice...), 0, "OK\n"},
		{"", with([]string{"get", "b"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"put", "k", "v"}, alice...), 0, "OK\n"},
		{"", with([]string{"get", "k"}, alice...), 0, "k\nv\n"},
		{"", with([]string{"get", "fop"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"get", "m", "--from-key"}, alice...), 0, ""},
		{"", with([]string{"get", "a", "--from-key"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"del", "b"}, alice...), 0, "1\n"},
		{"", []string{"get", "foo"}, 1, "Error: etcdserver: user name is empty"},
		{"", []string{"put", "foo", "x"}, 1, "Error: etcdserver: user name is empty"},
		{"", []string{"get", "foo", "--user", "alice:wrong"}, 2, "Error: etcdserver: authentication failed, invalid user ID or password"},
		{"", []string{"get", "foo", "--user", "nobody:pw"}, 2, "Error: etcdserver: authentication failed, invalid user ID or password"},
		{"", []string{"get", "foo", "--user", "carol:x"}, 2, "password was given for no password user"},
		{"", with([]string{"auth", "status"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"user", "get", "alice"}, alice...), 0, "User: alice\nRoles: r\n"},
		{"", with([]string{"user", "get", "bob"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"role", "get", "r"}, alice...), 0, "Role r\n"},
		{"", with([]string{"role", "get", "wide"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"user", "list"}, alice...), 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"role", "add", "x"}, alice...), 1, "Error: etcdserver: permission denied"},
		// Revoking: the message names the key, the range, the prefix's range or the open end.
		{"", with([]string{"role", "revoke-permission", "r", "foo", "--prefix"}, root...), 0, "Permission of range [foo, fop) is revoked from role r\n"},
		{"", with([]string{"role", "revoke-permission", "r", "a", "c"}, root...), 0, "Permission of range [a, c) is revoked from role r\n"},
		{"", with([]string{"role", "revoke-permission", "r", "a", "c"}, root...), 1, "Error: etcdserver: permission is not granted to the role"},
		{"", with([]string{"role", "revoke-permission", "r", "k"}, root...), 0, "Permission of key k is revoked from role r\n"},
		{"", with([]string{"role", "revoke-permission", "r", "m", "--from-key"}, root...), 0, "Permission of range [m, <open ended> is revoked from role r\n"},
		{"", with([]string{"role", "revoke-permission", "wide", "", "--from-key"}, root...), 0, " is revoked from role wide\n"},
		{"", with([]string{"role", "revoke-permission", "wide", ""}, root...), 0, " is revoked from role wide\n"},
		{"", with([]string{"role", "revoke-permission", "wide", "", "--prefix"}, root...), 1, "Error: etcdserver: permission is not granted to the role"},
		{"", with([]string{"role", "revoke-permission", "nosuch", "k"}, root...), 1, "Error: etcdserver: role name not found"},
		{"", with([]string{"role", "get", "r"}, root...), 0, "Role r\nKV Read:\nKV Write:\n"},
		{"", with([]string{"role", "get", "wide"}, root...), 0, "Role wide\nKV Read:\n"},
		{"", with([]string{"get", "foo"}, alice...), 1, "Error: etcdserver: permission denied"},
		// Passwords: from stdin with --interactive=false; the old one stops working.
		{"apw2\n", with([]string{"user", "passwd", "alice", "--interactive=false"}, root...), 0, "Password updated\n"},
		{"", with([]string{"get", "foo"}, alice...), 2, "Error: etcdserver: authentication failed, invalid user ID or password"},
		{"", []string{"role", "get", "r", "--user", "alice:apw2"}, 0, "Role r\n"},
		{"x\n", []string{"user", "passwd", "bob", "--interactive=false", "--user", "alice:apw2"}, 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"user", "passwd", "nobody", "--interactive=false"}, root...), 1, "Error: etcdserver: user name not found"},
		{"", with([]string{"user", "revoke-role", "alice", "r"}, root...), 0, "Role r is revoked from user alice\n"},
		{"", with([]string{"user", "revoke-role", "alice", "r"}, root...), 1, "Error: etcdserver: role is not granted to the user"},
		{"", []string{"role", "get", "r", "--user", "alice:apw2"}, 1, "Error: etcdserver: permission denied"},
		{"", with([]string{"user", "revoke-role", "root", "root"}, root...), 1, "Error: etcdserver: invalid auth management"},
		{"", with([]string{"user", "delete", "root"}, root...), 1, "Error: etcdserver: invalid auth management"},
		{"", with([]string{"role", "delete", "root"}, root...), 1, "Error: etcdserver: invalid auth management"},
		{"", with([]string{"user", "delete", "bob"}, root...), 0, "User bob deleted\n"},
		{"", with([]string{"user", "delete", "bob"}, root...), 1, "Error: etcdserver: user name not found"},
		{"", with([]string{"role", "delete", "wide"}, root...), 0, "Role wide deleted\n"},
		{"", with([]string{"role", "delete", "wide"}, root...), 1, "Error: etcdserver: role name not found"},
		{"", with([]string{"user", "get", "alice", "--detail"}, root...), 0, "User: alice\n"},
		{"", with([]string{"user", "list"}, root...), 0, "alice\ncarol\nroot\n"},
		{"", with([]string{"role", "list"}, root...), 0, "r\nroot\n"},
		{"", with([]string{"auth", "status", "-w", "json"}, root...), 0, `"enabled":true`},
		{"", with([]string{"auth", "disable"}, root...), 0, "Authentication Disabled\n"},
		{"", []string{"auth", "status"}, 0, "Authentication Status: false\nAuthRevision: "},
		{"", []string{"auth", "status", "-w", "json"}, 0, `"authRevision":`},
		{"", []string{"get", "foo"}, 0, "foo\nbar\n"},
		{"", with([]string{"get", "foo"}, root...), 0, "foo\nbar\n"},
		{"", []string{"auth", "disable"}, 0, "Authentication Disabled\n"},
		// With the role root there but not root's, etcdctl's retry of auth enable fails.
		{"", []string{"user", "revoke-role", "root", "root"}, 0, "Role root is revoked from user root\n"},
		{"", []string{"auth", "enable"}, 1, "Error: etcdserver: role name already exists"},
		{"", []string{"user", "grant-role", "root", "root"}, 0, "Role root is granted to user root\n"},
		{"", []string{"auth", "enable"}, 0, "Authentication Enabled\n"},
		{"", with([]string{"auth", "disable"}, root...), 0, "Authentication Disabled\n"},
		{"", []string{"user", "delete", "root"}, 0, "User root deleted\n"},
		{"", []string{"auth", "enable"}, 1, "Error: etcdserver: root user does not exist"},
		{"", []string{"auth", "status"}, 0, "Authentication Status: false\n"},
	}
	compareCtl(t, etcd.Endpoint, m.endpoint, steps)
}

// authClient is a clientv3 client of endpoints as user (no user: none), closed when the
// test ends.
func authClient(t *testing.T, user, password string, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second,
		Username: user, Password: password})
	if err != nil {
		t.Fatalf("clientv3 as %q: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// setupAuth makes, through c (auth disabled), users root:pw and alice:apw, a role r
// reading the prefix foo, granted to alice, the key foo=bar, and enables auth.
func setupAuth(t *testing.T, c *clientv3.Client) {
	t.Helper()
	cx := ctx(t)
	steps := []func() error{
		func() error { _, err := c.UserAdd(cx, "root", "pw"); return err },
		func() error { _, err := c.RoleAdd(cx, "root"); return err },
		func() error { _, err := c.UserGrantRole(cx, "root", "root"); return err },
		func() error { _, err := c.UserAdd(cx, "alice", "apw"); return err },
		func() error { _, err := c.RoleAdd(cx, "r"); return err },
		func() error {
			_, err := c.RoleGrantPermission(cx, "r", "foo", clientv3.GetPrefixRangeEnd("foo"), clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := c.UserGrantRole(cx, "alice", "r"); return err },
		func() error { _, err := c.Put(cx, "foo", "bar"); return err },
		func() error { _, err := c.AuthEnable(cx); return err },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}

// rawConn is a plain gRPC connection to endpoint (TLS when tlsCfg is set), with no
// credentials of clientv3's: the tests set the token metadata themselves.
func rawConn(t *testing.T, endpoint string, tlsCfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// login authenticates over conn and returns the simple token.
func login(t *testing.T, conn *grpc.ClientConn, user, password string) string {
	t.Helper()
	resp, err := pb.NewAuthClient(conn).Authenticate(ctx(t), &pb.AuthenticateRequest{Name: user, Password: password})
	if err != nil {
		t.Fatalf("Authenticate %s: %v", user, err)
	}
	if !simpleTokenRE.MatchString(resp.Token) {
		t.Fatalf("Authenticate %s: token %q is not a simple token", user, resp.Token)
	}
	return resp.Token
}

// rangeWith reads key over conn sending token (none if empty) as the token metadata.
func rangeWith(t *testing.T, conn *grpc.ClientConn, token, key string) (*pb.RangeResponse, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	if token != "" {
		c = metadata.AppendToOutgoingContext(c, rpctypes.TokenFieldNameGRPC, token)
	}
	// Waiting for the connection: the member may just have restarted.
	return pb.NewKVClient(conn).Range(c, &pb.RangeRequest{Key: []byte(key)}, grpc.WaitForReady(true))
}

// isStatus tells whether err is the gRPC status want (code and message).
func isStatus(err error, want error) bool {
	s, ok := status.FromError(err)
	w, _ := status.FromError(want)
	return ok && err != nil && s.Code() == w.Code() && s.Message() == w.Message()
}

// authState is what root sees of the auth store, headers left out.
func authState(t *testing.T, root *clientv3.Client) string {
	t.Helper()
	cx := ctx(t)
	var b strings.Builder
	st, err := root.AuthStatus(cx)
	if err != nil {
		t.Fatalf("AuthStatus: %v", err)
	}
	fmt.Fprintf(&b, "enabled=%v revision=%d\n", st.Enabled, st.AuthRevision)
	ul, err := root.UserList(cx)
	if err != nil {
		t.Fatalf("UserList: %v", err)
	}
	for _, u := range ul.Users {
		g, err := root.UserGet(cx, u)
		if err != nil {
			t.Fatalf("UserGet %s: %v", u, err)
		}
		fmt.Fprintf(&b, "user %s roles %q\n", u, g.Roles)
	}
	rl, err := root.RoleList(cx)
	if err != nil {
		t.Fatalf("RoleList: %v", err)
	}
	for _, r := range rl.Roles {
		g, err := root.RoleGet(cx, r)
		if err != nil {
			t.Fatalf("RoleGet %s: %v", r, err)
		}
		fmt.Fprintf(&b, "role %s", r)
		for _, p := range g.Perm {
			fmt.Fprintf(&b, " %s[%q,%q)", p.PermType, p.Key, p.RangeEnd)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestAuthRestart: users, roles, permissions and the enabled flag survive a restart of the
// process (a clean stop, then a crash after more changes); tokens do not, as in etcd, and
// clientv3 clients holding credentials re-authenticate without their users noticing.
func TestAuthRestart(t *testing.T) {
	sp := newSpec(t, "--bcrypt-cost", fmt.Sprint(authBcryptCost))
	m := sp.start(t)
	setupAuth(t, m.client(t))
	root := authClient(t, "root", "pw", m.endpoint)
	alice := authClient(t, "alice", "apw", m.endpoint)
	if _, err := root.RoleGrantPermission(ctx(t), "r", "a", "c", clientv3.PermissionType(clientv3.PermWrite)); err != nil {
		t.Fatal(err)
	}
	before := authState(t, root)
	conn := rawConn(t, m.endpoint, nil)
	tok := login(t, conn, "alice", "apw")
	if _, err := rangeWith(t, conn, tok, "foo"); err != nil {
		t.Fatalf("alice's token before the restart: %v", err)
	}

	// after checks what must hold after each restart: the state is the same, the old token
	// is gone, anonymous calls are refused, and the clients with credentials carry on.
	after := func(what, want, oldToken string) {
		t.Helper()
		if got := authState(t, root); got != want {
			t.Errorf("%s: the auth store changed:\nbefore:\n%safter:\n%s", what, want, got)
		}
		if oldToken != "" {
			if _, err := rangeWith(t, conn, oldToken, "foo"); !isStatus(err, rpctypes.ErrGRPCInvalidAuthToken) {
				t.Errorf("%s: a token from before: %v, want %v", what, err, rpctypes.ErrGRPCInvalidAuthToken)
			}
		}
		if _, err := rangeWith(t, conn, "", "foo"); !isStatus(err, rpctypes.ErrGRPCUserEmpty) {
			t.Errorf("%s: no token: %v, want %v", what, err, rpctypes.ErrGRPCUserEmpty)
		}
		if g, err := alice.Get(ctx(t), "foo"); err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "bar" {
			t.Errorf("%s: clientv3 as alice: get foo: %v %v", what, g, err)
		}
		if _, err := alice.Put(ctx(t), "foo", "x"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
			t.Errorf("%s: clientv3 as alice: put foo: %v, want %v", what, err, rpctypes.ErrPermissionDenied)
		}
		if _, err := alice.Put(ctx(t), "b", "x"); err != nil {
			t.Errorf("%s: clientv3 as alice: put b: %v", what, err)
		}
		if r, err := runAuthCtl(m.endpoint, "", "get", "foo", "--print-value-only", "--user", "alice:apw"); err != nil || r.code != 0 || r.stdout != "bar\n" {
			t.Errorf("%s: etcdctl get foo as alice: %v %v", what, r, err)
		}
		if r, err := runAuthCtl(m.endpoint, "", "get", "foo"); err != nil || r.code != 1 || !strings.Contains(r.stderr, "Error: etcdserver: user name is empty") {
			t.Errorf("%s: etcdctl get foo without a user: %v %v", what, r, err)
		}
	}

	if err := m.stop(30 * time.Second); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	m = sp.start(t)
	after("after a clean restart", before, tok)

	// More changes, then a crash: what was acknowledged is there after it.
	cx := ctx(t)
	if _, err := root.UserAdd(cx, "dave", "dpw"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UserGrantRole(cx, "dave", "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.RoleRevokePermission(cx, "r", "a", "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.RoleGrantPermission(cx, "r", "b", "", clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
		t.Fatal(err)
	}
	before = authState(t, root)
	m.kill()
	m = sp.start(t)
	// A token from just before a crash is not checked: etcd too makes it again when it
	// replays the login from its log, which it does unless its backend committed after the
	// login. TestAuthTokenTTL checks that an expired token stays expired.
	after("after a crash", before, "")
	dave := authClient(t, "dave", "dpw", m.endpoint)
	if _, err := dave.Put(ctx(t), "b", "y"); err != nil {
		t.Errorf("clientv3 as dave after the crash: put b: %v", err)
	}
}

// waitTokenInvalid polls a request with token over conn until the server calls the token
// invalid, and fails on any other error. A successful use renews a simple token, so the
// pauses between polls grow until they exceed the token's TTL.
func waitTokenInvalid(t *testing.T, conn *grpc.ClientConn, token, key string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	pause := 100 * time.Millisecond
	for {
		_, err := rangeWith(t, conn, token, key)
		if isStatus(err, rpctypes.ErrGRPCInvalidAuthToken) {
			return
		}
		if err != nil {
			t.Fatalf("token %s: %v, want it valid or %v", token, err, rpctypes.ErrGRPCInvalidAuthToken)
		}
		if time.Now().After(deadline) {
			t.Fatalf("token %s still valid after %v", token, pollTimeout)
		}
		time.Sleep(pause) // the polling interval, growing so the token goes unused for longer
		pause = min(pause*3/2, 5*time.Second)
	}
}

// waitExpiry logs user in many times, then checks one unused token per poll until one is
// invalid, and returns it: then every token last used before those logins has expired too.
// Each token is checked once since a use renews it; past the last one (a slow machine) the
// last is polled with growing pauses.
func waitExpiry(t *testing.T, conn *grpc.ClientConn, user, password, key string) string {
	t.Helper()
	toks := make([]string, 40)
	for i := range toks {
		toks[i] = login(t, conn, user, password)
	}
	for _, tok := range toks {
		_, err := rangeWith(t, conn, tok, key)
		if isStatus(err, rpctypes.ErrGRPCInvalidAuthToken) {
			return tok
		}
		if err != nil {
			t.Fatalf("token %s: %v, want it valid or %v", tok, err, rpctypes.ErrGRPCInvalidAuthToken)
		}
		time.Sleep(100 * time.Millisecond) // the polling interval
	}
	last := toks[len(toks)-1]
	waitTokenInvalid(t, conn, last, key)
	return last
}

// TestAuthTokenTTL: with one-second tokens, clientv3 with credentials keeps working after
// its token expired (it logs in again); a password change kills the user's tokens at once
// and a login with the new password works. The same script runs against etcd and
// metastore; metastore is then crashed and restarted, and the expired token must stay dead.
func TestAuthTokenTTL(t *testing.T) {
	sides := []struct {
		name  string
		start func(t *testing.T) (endpoint string, crash func())
	}{
		{"etcd", func(t *testing.T) (string, func()) {
			return startAuthEtcd(t, func(c *embed.Config) { c.AuthTokenTTL = 1 }).Endpoint, nil
		}},
		{"metastore", func(t *testing.T) (string, func()) {
			sp := newSpec(t, "--bcrypt-cost", fmt.Sprint(authBcryptCost), "--auth-token-ttl", "1")
			m := sp.start(t)
			return m.endpoint, func() { m.kill(); m = sp.start(t) }
		}},
	}
	for _, side := range sides {
		t.Run(side.name, func(t *testing.T) {
			ep, crash := side.start(t)
			tokenTTLScript(t, ep, crash)
		})
	}
}

func tokenTTLScript(t *testing.T, ep string, crash func()) {
	setupAuth(t, authClient(t, "", "", ep))
	root := authClient(t, "root", "pw", ep)
	alice := authClient(t, "alice", "apw", ep)
	conn := rawConn(t, ep, nil)
	if g, err := alice.Get(ctx(t), "foo"); err != nil || len(g.Kvs) != 1 {
		t.Fatalf("clientv3 as alice: get foo: %v %v", g, err)
	}
	if _, err := alice.Put(ctx(t), "foo", "x"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("clientv3 as alice: put foo: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}

	// Tokens got after the clients' last calls expire after theirs. (root's: a password
	// change below ends alice's tokens, also when a restart replays the log.)
	expired := waitExpiry(t, conn, "root", "pw", "foo")
	for i := range 2 {
		if g, err := alice.Get(ctx(t), "foo"); err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "bar" {
			t.Fatalf("clientv3 as alice, call %d after the token expired: get foo: %v %v", i, g, err)
		}
	}
	if _, err := alice.Put(ctx(t), "foo", "x"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("clientv3 as alice after the token expired: put foo: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if st, err := root.AuthStatus(ctx(t)); err != nil || !st.Enabled {
		t.Fatalf("clientv3 as root after the token expired: auth status: %v %v", st, err)
	}
	// A watch opened after the expiry (a stream logs in afresh) sees root's write.
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	wch := alice.Watch(wctx, "foo")
	var wrote *clientv3.PutResponse
	pollUntil(t, func() bool {
		// Write until the watch reports it (it may start after the first write).
		p, err := root.Put(ctx(t), "foo", "baz")
		if err != nil {
			t.Fatalf("clientv3 as root: put foo: %v", err)
		}
		wrote = p
		select {
		case wr := <-wch:
			if err := wr.Err(); err != nil {
				t.Fatalf("clientv3 as alice: watch foo: %v", err)
			}
			return len(wr.Events) > 0 && string(wr.Events[0].Kv.Value) == "baz"
		case <-time.After(time.Second): // the polling interval
			return false
		}
	}, func() string {
		return fmt.Sprintf("alice's watch saw no write of foo (last at revision %d)", wrote.Header.Revision)
	})

	// A password change: alice's token dies with it, while root's token, got before alice's
	// and so nearer its expiry, still works (so it is the change, not the TTL). Under load
	// root's may have expired too: then try again.
	password := "apw"
	for round := 2; ; round++ {
		if round > 50 {
			t.Fatal("no round in which a token outlived a password change")
		}
		rootTok := login(t, conn, "root", "pw")
		old := login(t, conn, "alice", password)
		if _, err := rangeWith(t, conn, old, "foo"); err != nil {
			continue // expired already: a loaded machine
		}
		next := fmt.Sprintf("apw%d", round)
		if _, err := root.UserChangePassword(ctx(t), "alice", next); err != nil {
			t.Fatalf("change alice's password: %v", err)
		}
		password = next
		_, errOld := rangeWith(t, conn, old, "foo")
		_, errRoot := rangeWith(t, conn, rootTok, "foo")
		if isStatus(errRoot, rpctypes.ErrGRPCInvalidAuthToken) {
			continue
		}
		if errRoot != nil {
			t.Fatalf("root's token after alice's password change: %v", errRoot)
		}
		if !isStatus(errOld, rpctypes.ErrGRPCInvalidAuthToken) {
			t.Fatalf("alice's token from before her password change: %v, want %v", errOld, rpctypes.ErrGRPCInvalidAuthToken)
		}
		break
	}
	if _, err := pb.NewAuthClient(conn).Authenticate(ctx(t), &pb.AuthenticateRequest{Name: "alice", Password: "apw"}); !isStatus(err, rpctypes.ErrGRPCAuthFailed) {
		t.Fatalf("login with the old password: %v, want %v", err, rpctypes.ErrGRPCAuthFailed)
	}
	tok := login(t, conn, "alice", password)
	if g, err := rangeWith(t, conn, tok, "foo"); err != nil || len(g.Kvs) != 1 {
		t.Fatalf("alice's token after the password change: %v %v", g, err)
	}
	// The client holding the old password can no longer log in.
	if _, err := alice.Get(ctx(t), "foo"); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("clientv3 with alice's old password: get foo: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
	fresh := authClient(t, "alice", password, ep)
	if g, err := fresh.Get(ctx(t), "foo"); err != nil || len(g.Kvs) != 1 {
		t.Fatalf("clientv3 with alice's new password: get foo: %v %v", g, err)
	}

	if crash == nil {
		return
	}
	// Tokens live in memory: after a crash, the restarted member must not honour a token
	// that had expired before it. (etcd replays from its log only the entries after its
	// backend's last commit, at most a batch interval (100 ms) after a write: the logins
	// here are followed by writes and by a second of waiting, so etcd would not replay them.)
	crash()
	if _, err := rangeWith(t, conn, expired, "foo"); !isStatus(err, rpctypes.ErrGRPCInvalidAuthToken) {
		t.Errorf("after a crash and restart, a token that had expired before: %v, want %v", err, rpctypes.ErrGRPCInvalidAuthToken)
	}
	if g, err := fresh.Get(ctx(t), "foo"); err != nil || len(g.Kvs) != 1 {
		t.Errorf("clientv3 with alice's new password after a crash: get foo: %v %v", g, err)
	}
}

// TestAuthClientCertCN: with --client-cert-auth, a request with no token acts as the user
// named by its client certificate's CommonName, as etcd does: a no-password user works
// through its certificate alone, a CN naming no user is denied, a CN of root is an
// administrator, and a token (valid or not) wins over the CN. The JSON gateway refuses
// requests carrying a certificate with a CN while auth is on. etcdctl runs the same script
// against etcd and metastore, both serving https with the same certificates.
func TestAuthClientCertCN(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue("server", "server", "127.0.0.1")
	certs := map[string]testcerts.Pair{}
	for _, cn := range []string{"root", "carol", "ghost", ""} {
		certs[cn] = ca.Issue("client-"+cn, cn)
	}
	etcd := startAuthEtcd(t, func(c *embed.Config) {
		for _, us := range [][]url.URL{c.ListenClientUrls, c.AdvertiseClientUrls} {
			for i := range us {
				us[i].Scheme = "https"
			}
		}
		c.ClientTLSInfo.CertFile, c.ClientTLSInfo.KeyFile = srv.CertFile, srv.KeyFile
		c.ClientTLSInfo.TrustedCAFile, c.ClientTLSInfo.ClientCertAuth = ca.CertFile, true
	})
	m := httpsSpec(t, "--cert-file", srv.CertFile, "--key-file", srv.KeyFile, "--trusted-ca-file", ca.CertFile,
		"--client-cert-auth", "--bcrypt-cost", fmt.Sprint(authBcryptCost)).start(t)
	eps := [2]string{etcd.Endpoint, m.endpoint}

	as := func(cn string, args ...string) []string {
		p := certs[cn]
		return append(ctlFlags(ca.CertFile, &p), args...)
	}
	steps := []ctlStep{
		{"", as("root", "user", "add", "root:pw"), 0, "User root created\n"},
		{"", as("root", "user", "add", "carol", "--no-password"), 0, "User carol created\n"},
		{"", as("root", "user", "add", "alice:apw"), 0, "User alice created\n"},
		{"", as("root", "role", "add", "r"), 0, "Role r created\n"},
		{"", as("root", "role", "grant-permission", "r", "readwrite", "allowed/", "--prefix"), 0, "Role r updated\n"},
		{"", as("root", "user", "grant-role", "carol", "r"), 0, "Role r is granted to user carol\n"},
		{"", as("root", "role", "add", "r2"), 0, "Role r2 created\n"},
		{"", as("root", "role", "grant-permission", "r2", "readwrite", "other/", "--prefix"), 0, "Role r2 updated\n"},
		{"", as("root", "user", "grant-role", "alice", "r2"), 0, "Role r2 is granted to user alice\n"},
		{"", as("ghost", "auth", "enable"), 0, "Authentication Enabled\n"},
		// carol, by her certificate, no password.
		{"", as("carol", "put", "allowed/x", "v"), 0, "OK\n"},
		{"", as("carol", "get", "allowed/x"), 0, "allowed/x\nv\n"},
		{"", as("carol", "put", "denied", "v"), 1, "Error: etcdserver: permission denied"},
		{"", as("carol", "get", "other/y"), 1, "Error: etcdserver: permission denied"},
		{"", as("carol", "user", "get", "carol"), 0, "User: carol\nRoles: r\n"},
		{"", as("carol", "auth", "status"), 1, "Error: etcdserver: permission denied"},
		// ghost names no user.
		{"", as("ghost", "get", "allowed/x"), 1, "Error: etcdserver: permission denied"},
		{"", as("ghost", "put", "allowed/x", "w"), 1, "Error: etcdserver: permission denied"},
		{"", as("ghost", "auth", "status"), 1, "Error: etcdserver: user name not found"},
		// No CN: no user name.
		{"", as("", "get", "allowed/x"), 1, "Error: etcdserver: permission denied"},
		{"", as("", "auth", "status"), 1, "Error: etcdserver: user name is empty"},
		// root's certificate is an administrator's.
		{"", as("root", "auth", "status"), 0, "Authentication Status: true\n"},
		{"", as("root", "user", "list"), 0, "alice\ncarol\nroot\n"},
		// A token wins over the certificate.
		{"", as("carol", "get", "allowed/x", "--user", "alice:apw"), 1, "Error: etcdserver: permission denied"},
		{"", as("carol", "put", "other/y", "v", "--user", "alice:apw"), 0, "OK\n"},
		{"", as("ghost", "get", "other/y", "--user", "alice:apw"), 0, "other/y\nv\n"},
		{"", as("root", "user", "list", "--user", "alice:apw"), 1, "Error: etcdserver: permission denied"},
		{"", as("carol", "get", "allowed/x", "--user", "carol:x"), 2, "password was given for no password user"},
	}
	compareCtl(t, "https://"+eps[0], "https://"+eps[1], steps)

	// Over raw gRPC: a token that does not validate is refused, with no fallback to the CN.
	cfg := clientTLS(t, ca.CertFile, ptr(certs["carol"]))
	for i, ep := range eps {
		side := []string{"etcd", "metastore"}[i]
		conn := rawConn(t, ep, cfg)
		if g, err := rangeWith(t, conn, "", "allowed/x"); err != nil || len(g.Kvs) != 1 {
			t.Errorf("%s: carol's certificate, no token: %v %v", side, g, err)
		}
		if _, err := rangeWith(t, conn, "bogus", "allowed/x"); !isStatus(err, rpctypes.ErrGRPCInvalidAuthToken) {
			t.Errorf("%s: carol's certificate, a bogus token: %v, want %v", side, err, rpctypes.ErrGRPCInvalidAuthToken)
		}
		tok := login(t, conn, "alice", "apw")
		if _, err := rangeWith(t, conn, tok, "allowed/x"); !isStatus(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Errorf("%s: carol's certificate, alice's token: get allowed/x: %v, want %v", side, err, rpctypes.ErrGRPCPermissionDenied)
		}
		if g, err := rangeWith(t, conn, tok, "other/y"); err != nil || len(g.Kvs) != 1 {
			t.Errorf("%s: carol's certificate, alice's token: get other/y: %v %v", side, g, err)
		}
	}

	// The gateway, with a certificate carrying a CN, with and without a token.
	var tokens [2]string
	for i, ep := range eps {
		tokens[i] = login(t, rawConn(t, ep, cfg), "alice", "apw")
	}
	hc := httpsClient(cfg)
	for _, withToken := range []bool{false, true} {
		var got [2]gwResult
		for i, ep := range eps {
			h := map[string]string{}
			if withToken {
				h["Authorization"] = tokens[i]
			}
			got[i] = gatewayPost(t, hc, "https://"+ep, "/v3/kv/range", `{"key":"`+b64("other/y")+`"}`, h)
		}
		if got[0].code != http.StatusBadRequest || !strings.Contains(got[0].raw, "CommonName of client sending a request against gateway will be ignored") {
			t.Errorf("token %v: etcd's gateway: %d %q, want 400 and the CommonName message", withToken, got[0].code, got[0].raw)
		}
		if got[0].code != got[1].code || got[0].raw != got[1].raw {
			t.Errorf("gateway with a CN certificate, token %v:\n  etcd:      %d %q\n  metastore: %d %q", withToken, got[0].code, got[0].raw, got[1].code, got[1].raw)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// gwResult is a gateway response: its status, its body, and the body parsed as JSON with
// what must differ between two servers normalised (nil if the body is not JSON).
type gwResult struct {
	code int
	raw  string
	body any
}

// gatewayPost posts body to base+path with the given headers.
func gatewayPost(t *testing.T, hc *http.Client, base, path, body string, header map[string]string) gwResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s%s: %v", base, path, err)
	}
	r := gwResult{code: resp.StatusCode, raw: string(b)}
	if v, err := decodeJSON(b); err == nil {
		r.body = v
	}
	return r
}

// normalizeGateway is a gateway response's JSON body with what must differ between two
// servers replaced, after checking it is there: a success's header ids, a token.
func normalizeGateway(r gwResult) (any, error) {
	if r.body == nil {
		return nil, fmt.Errorf("the body is not JSON: %q", r.raw)
	}
	if r.code == http.StatusOK {
		if err := dropHeaderIDs(r.body, true); err != nil {
			return nil, err
		}
	}
	if m, ok := r.body.(map[string]any); ok {
		if tok, ok := m["token"]; ok {
			if s, _ := tok.(string); !simpleTokenRE.MatchString(s) {
				return nil, fmt.Errorf("token %v is not a simple token", tok)
			}
			m["token"] = "<token>"
		}
	}
	return r.body, nil
}

// TestAuthGateway sends the same JSON requests to etcd's gateway and to metastore's, with
// tokens each got from its own /v3/auth/authenticate, and compares the status and the
// parsed body: the token in the Authorization header raw or as "Bearer <token>", none
// (400), a bad one (401), a forbidden key (403).
func TestAuthGateway(t *testing.T) {
	etcd := startAuthEtcd(t, nil)
	m := startAuthMember(t)
	eps := [2]string{etcd.Endpoint, m.endpoint}
	for _, ep := range eps {
		setupAuth(t, authClient(t, "", "", ep))
	}
	hc := &http.Client{Timeout: 2 * pollTimeout}
	tokens := [2]map[string]string{{}, {}}
	key := func(k string) string { return `{"key":"` + b64(k) + `"}` }
	steps := []struct {
		path, body string
		auth       string // "alice", "root": the user's token; "Bearer alice": with the prefix; "-": no header; else verbatim
		login      string // keep the response's token as this user's
		code       int    // etcd's status
		want       string // in etcd's body
	}{
		{"/v3/auth/authenticate", `{"name":"alice","password":"apw"}`, "-", "alice", 200, `"token"`},
		{"/v3/auth/authenticate", `{"name":"root","password":"pw"}`, "-", "root", 200, `"token"`},
		{"/v3/auth/authenticate", `{"name":"alice","password":"wrong"}`, "-", "", 400, "etcdserver: authentication failed, invalid user ID or password"},
		{"/v3/auth/authenticate", `{"name":"nobody","password":"pw"}`, "-", "", 400, "etcdserver: authentication failed, invalid user ID or password"},
		{"/v3/kv/range", key("foo"), "alice", "", 200, `"kvs"`},
		{"/v3/kv/range", key("foo"), "Bearer alice", "", 200, `"kvs"`},
		{"/v3beta/kv/range", key("foo"), "Bearer alice", "", 200, `"kvs"`},
		{"/v3/kv/range", key("foo"), "-", "", 400, "etcdserver: user name is empty"},
		{"/v3/kv/range", key("foo"), "bogus", "", 401, "etcdserver: invalid auth token"},
		{"/v3/kv/range", key("foo"), "Bearer bogus.1", "", 401, "etcdserver: invalid auth token"},
		{"/v3/kv/range", key("fop"), "alice", "", 403, "etcdserver: permission denied"},
		{"/v3/kv/put", `{"key":"` + b64("foo") + `","value":"` + b64("x") + `"}`, "alice", "", 403, "etcdserver: permission denied"},
		{"/v3/kv/put", `{"key":"` + b64("foo") + `","value":"` + b64("y") + `"}`, "root", "", 200, `"header"`},
		{"/v3/kv/range", key("foo"), "Bearer alice", "", 200, `"kvs"`},
		{"/v3/auth/status", `{}`, "alice", "", 403, "etcdserver: permission denied"},
		{"/v3/auth/status", `{}`, "-", "", 400, "etcdserver: user name is empty"},
		{"/v3/auth/status", `{}`, "Bearer root", "", 200, `"enabled":true`},
		{"/v3/auth/user/get", `{"name":"alice"}`, "alice", "", 200, `"roles":["r"]`},
		{"/v3/auth/user/get", `{"name":"root"}`, "alice", "", 403, "etcdserver: permission denied"},
		{"/v3/auth/user/changepw", `{"name":"alice","password":"apw2"}`, "root", "", 200, `"header"`},
		{"/v3/kv/range", key("foo"), "alice", "", 401, "etcdserver: invalid auth token"},
		{"/v3/auth/authenticate", `{"name":"alice","password":"apw2"}`, "-", "alice", 200, `"token"`},
		{"/v3/kv/range", key("foo"), "Bearer alice", "", 200, `"kvs"`},
		{"/v3/auth/disable", `{}`, "root", "", 200, `"header"`},
		{"/v3/kv/range", key("foo"), "bogus", "", 200, `"kvs"`},
		{"/v3/auth/authenticate", `{"name":"alice","password":"apw2"}`, "-", "", 400, "etcdserver: authentication is not enabled"},
	}
	for i, st := range steps {
		var got [2]gwResult
		var norm [2]any
		var errs [2]error
		for j, ep := range eps {
			h := map[string]string{}
			switch a := st.auth; {
			case a == "-":
			case tokens[j][a] != "":
				h["Authorization"] = tokens[j][a]
			case strings.HasPrefix(a, "Bearer ") && tokens[j][strings.TrimPrefix(a, "Bearer ")] != "":
				h["Authorization"] = "Bearer " + tokens[j][strings.TrimPrefix(a, "Bearer ")]
			default:
				h["Authorization"] = a
			}
			got[j] = gatewayPost(t, hc, "http://"+ep, st.path, st.body, h)
			if st.login != "" && got[j].code == http.StatusOK {
				tok, _ := got[j].body.(map[string]any)["token"].(string)
				tokens[j][st.login] = tok
			}
			norm[j], errs[j] = normalizeGateway(got[j])
		}
		what := fmt.Sprintf("step %d: POST %s %s as %q", i, st.path, st.body, st.auth)
		if got[0].code != st.code || !strings.Contains(got[0].raw, st.want) || errs[0] != nil {
			t.Fatalf("%s: the script is wrong about etcd: etcd gave %d %s (%v); the script expects %d and %q", what, got[0].code, got[0].raw, errs[0], st.code, st.want)
		}
		if got[0].code != got[1].code || errs[1] != nil || !reflect.DeepEqual(norm[0], norm[1]) {
			t.Errorf("%s differs:\n  etcd:      %d %s\n  metastore: %d %s (%v)", what, got[0].code, got[0].raw, got[1].code, got[1].raw, errs[1])
		}
	}
}
