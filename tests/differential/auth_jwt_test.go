//go:build !js

package differential

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/gogo/protobuf/proto"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// writeRSAKeys writes a fresh RSA key pair as PEM files and returns their paths.
func writeRSAKeys(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "jwt.key"), filepath.Join(dir, "jwt.pub")
	for path, block := range map[string]*pem.Block{
		priv: {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)},
		pub:  {Type: "PUBLIC KEY", Bytes: pubDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return priv, pub
}

// TestDifferentialAuthJWT runs etcd and metastore with the same JWT keys: tokens are signed
// claims, so any auth change after a login makes the token's key requests "revision of auth
// store is old" (while administration, which checks no revision, goes on), a password change
// does not end a token, and a token signed with another key is refused.
func TestDifferentialAuthJWT(t *testing.T) {
	priv, pub := writeRSAKeys(t)
	p := newAuthPairWith(t, "jwt,pub-key="+pub+",priv-key="+priv+",sign-method=RS256,ttl=10m")
	root, alice := as("root"), as("alice")
	errOld := rpctypes.ErrGRPCAuthOldRevision
	for _, req := range []proto.Message{
		userAdd("root", "rootpw"), grantRole("root", "root"),
		&pb.AuthRoleAddRequest{Name: "rw"}, grantPerm("rw", perm(readwrite, "k", "l")),
		userAdd("alice", "alicepw"), grantRole("alice", "rw"),
		put("k1", "v"),
		&pb.AuthEnableRequest{},
	} {
		p.do(anon, req, nil)
	}
	p.login("alice", "alicepw")
	p.login("root", "rootpw")
	p.rangeKeys(alice, get("k1"), "k1")
	p.do(alice, put("k1", "v2"), nil)

	// An auth change (made by an administrator: no revision check): alice's token names an
	// older auth revision from now on, and so does root's for key requests.
	p.authStatus(root, true, 7)
	p.do(root, userAdd("bob", "bobpw"), nil)
	p.do(alice, get("k1"), errOld)
	p.do(alice, put("k1", "v3"), errOld)
	p.do(root, get("k1"), errOld)
	p.do(alice, &pb.LeaseGrantRequest{ID: 5, TTL: 60}, nil)
	p.login("alice", "alicepw")
	p.rangeKeys(alice, get("k1"), "k1")

	// A password change does not end a JWT; the revision it names does.
	p.keepToken("alice", "alice before")
	p.login("root", "rootpw")
	p.do(root, &pb.AuthUserChangePasswordRequest{Name: "alice", Password: "new"}, nil)
	p.do(as("alice before"), get("k1"), errOld)
	p.do(as("alice before"), &pb.AuthUserGetRequest{Name: "alice"}, nil)
	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: "alicepw"}, errAuthFailed)
	p.login("alice", "new")
	p.rangeKeys(alice, get("k1"), "k1")

	// Not a token of these keys.
	other := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsInJldmlzaW9uIjo5LCJ1c2VybmFtZSI6ImFsaWNlIn0.x"
	p.do(rawToken(other), get("k1"), errInvalidToken)
	p.do(rawToken("a.b"), get("k1"), errInvalidToken)
}
