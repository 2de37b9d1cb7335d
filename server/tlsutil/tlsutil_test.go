package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// newCert makes a certificate from tmpl with a fresh key, signed by parent (self-signed when
// parent is nil).
func newCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// template is a CA's or a leaf's (for 127.0.0.1, server and client use) certificate.
func template(cn string, serial int64, isCA bool) *x509.Certificate {
	c := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if isCA {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage, c.ExtKeyUsage, c.IPAddresses = x509.KeyUsageCertSign|x509.KeyUsageCRLSign, nil, nil
	}
	return c
}

// mtime is the last modification time given to a written file; every write moves it on so
// a rewrite is noticed whatever the file system's time granularity (tests are not parallel).
var mtime = time.Unix(1_000_000_000, 0)

// write puts PEM blocks (or, for a single non-PEM block, its bytes) in a file.
func write(t *testing.T, name string, blocks ...*pem.Block) {
	t.Helper()
	var b []byte
	for _, p := range blocks {
		b = append(b, pem.EncodeToMemory(p)...)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	mtime = mtime.Add(time.Second)
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func certPEM(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) *pem.Block {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
}

// crlPEM is a revocation list of ca revoking serials.
func crlPEM(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, number int64, serials ...int64) *pem.Block {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "X509 CRL", Bytes: der}
}

// pki is a CA and the files of its parties in a temporary directory.
type pki struct {
	dir                                 string
	ca, otherCA                         *x509.Certificate
	caKey, otherKey                     *ecdsa.PrivateKey
	caFile, crlFile                     string
	server, good, revoked, other, extra Info // CertFile and KeyFile only
}

const (
	serverSerial  = 10
	goodSerial    = 20
	revokedSerial = 21
)

func newPKI(t *testing.T) *pki {
	p := &pki{dir: t.TempDir()}
	p.ca, p.caKey = newCert(t, template("ca", 1, true), nil, nil)
	p.otherCA, p.otherKey = newCert(t, template("other-ca", 2, true), nil, nil)
	p.caFile = filepath.Join(p.dir, "ca.pem")
	write(t, p.caFile, certPEM(p.ca))
	p.crlFile = filepath.Join(p.dir, "crl.pem")
	write(t, p.crlFile, crlPEM(t, p.ca, p.caKey, 1, revokedSerial))
	p.server = p.leaf(t, "server", serverSerial, p.ca, p.caKey)
	p.good = p.leaf(t, "good-client", goodSerial, p.ca, p.caKey)
	p.revoked = p.leaf(t, "revoked-client", revokedSerial, p.ca, p.caKey)
	p.other = p.leaf(t, "other-client", 30, p.otherCA, p.otherKey)
	return p
}

// leaf writes a certificate named cn signed by parent to cn.pem and cn-key.pem.
func (p *pki) leaf(t *testing.T, cn string, serial int64, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) Info {
	t.Helper()
	c, k := newCert(t, template(cn, serial, false), parent, parentKey)
	i := Info{CertFile: filepath.Join(p.dir, cn+".pem"), KeyFile: filepath.Join(p.dir, cn+"-key.pem")}
	write(t, i.CertFile, certPEM(c))
	write(t, i.KeyFile, keyPEM(t, k))
	return i
}

// client is a plain crypto/tls client configuration trusting roots, presenting cert if any.
func client(t *testing.T, roots []*x509.Certificate, cert Info, protos ...string) *tls.Config {
	t.Helper()
	c := &tls.Config{RootCAs: x509.NewCertPool(), NextProtos: protos}
	for _, r := range roots {
		c.RootCAs.AddCert(r)
	}
	if !cert.Empty() {
		kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c
}

type result struct {
	client, server       tls.ConnectionState
	clientErr, serverErr error
}

func (r result) ok() bool { return r.clientErr == nil && r.serverErr == nil }

// handshake connects a client to a server over 127.0.0.1. The server writes a byte once its
// handshake succeeds and the client reads it, so a client certificate refused after the
// client's side of a TLS 1.3 handshake completed also fails the client.
func handshake(t *testing.T, srv, cli *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var r result
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			r.serverErr = err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, srv)
		if r.serverErr = tc.Handshake(); r.serverErr == nil {
			r.server = tc.ConnectionState()
			_, r.serverErr = tc.Write([]byte{1})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cli}
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		r.clientErr = err
		ln.Close()
	} else {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, r.clientErr = c.Read(make([]byte, 1))
		r.client = c.(*tls.Conn).ConnectionState()
		c.Close()
	}
	<-done
	return r
}

func peerCN(s tls.ConnectionState) string {
	if len(s.PeerCertificates) == 0 {
		return ""
	}
	return s.PeerCertificates[0].Subject.CommonName
}

func peerSerial(s tls.ConnectionState) int64 {
	if len(s.PeerCertificates) == 0 {
		return 0
	}
	return s.PeerCertificates[0].SerialNumber.Int64()
}

func serverConfig(t *testing.T, i Info) *tls.Config {
	t.Helper()
	c, err := i.ServerConfig()
	if err != nil {
		t.Fatalf("ServerConfig: %v", err)
	}
	return c
}

func TestServerWithoutClientCertAuth(t *testing.T) {
	p := newPKI(t)
	srv := serverConfig(t, Info{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile})
	for _, tc := range []struct {
		name      string
		cli       *tls.Config
		ok        bool
		wantProto string
	}{
		{"h2 offered", client(t, []*x509.Certificate{p.ca}, Info{}, "h2"), true, "h2"},
		{"h2 and http/1.1 offered", client(t, []*x509.Certificate{p.ca}, Info{}, "http/1.1", "h2"), true, "h2"},
		{"http/1.1 offered", client(t, []*x509.Certificate{p.ca}, Info{}, "http/1.1"), true, "http/1.1"},
		{"no ALPN", client(t, []*x509.Certificate{p.ca}, Info{}), true, ""},
		{"client not trusting the CA", client(t, []*x509.Certificate{p.otherCA}, Info{}, "h2"), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handshake(t, srv, tc.cli)
			if r.ok() != tc.ok {
				t.Fatalf("ok = %v, want %v (client: %v, server: %v)", r.ok(), tc.ok, r.clientErr, r.serverErr)
			}
			if !tc.ok {
				return
			}
			if r.client.NegotiatedProtocol != tc.wantProto || r.server.NegotiatedProtocol != tc.wantProto {
				t.Errorf("protocol client %q server %q, want %q", r.client.NegotiatedProtocol, r.server.NegotiatedProtocol, tc.wantProto)
			}
			if got := peerSerial(r.client); got != serverSerial {
				t.Errorf("server certificate serial %d, want %d", got, serverSerial)
			}
			if len(r.server.PeerCertificates) != 0 {
				t.Errorf("server saw a client certificate")
			}
		})
	}
}

// A trusted CA alone requires client certificates, as etcd's ServerConfig does: a peer port
// configured with a CA refuses whoever has no certificate from it.
func TestTrustedCARequiresClientCert(t *testing.T) {
	p := newPKI(t)
	srv := serverConfig(t, Info{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile, TrustedCAFile: p.caFile})
	if r := handshake(t, srv, client(t, []*x509.Certificate{p.ca}, Info{}, "h2")); r.ok() {
		t.Fatal("a client without a certificate got through a server with a trusted CA")
	}
	good := Info{CertFile: p.good.CertFile, KeyFile: p.good.KeyFile}
	if r := handshake(t, srv, client(t, []*x509.Certificate{p.ca}, good, "h2")); !r.ok() {
		t.Fatalf("a client with a certificate from the CA was refused: client %v, server %v", r.clientErr, r.serverErr)
	}
}

func TestClientCertAuth(t *testing.T) {
	p := newPKI(t)
	derCRL := filepath.Join(p.dir, "crl.der")
	if err := os.WriteFile(derCRL, crlPEM(t, p.ca, p.caKey, 1, revokedSerial).Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	roots := []*x509.Certificate{p.ca}
	for _, version := range []string{"TLS1.2", "TLS1.3"} {
		for _, tc := range []struct {
			name   string
			crl    string
			cert   Info
			wantCN string // "" for a refused client
		}{
			{"good", "", p.good, "good-client"},
			{"no certificate", "", Info{}, ""},
			{"other CA", "", p.other, ""},
			{"revoked without CRL", "", p.revoked, "revoked-client"},
			{"revoked with CRL", p.crlFile, p.revoked, ""},
			{"revoked with DER CRL", derCRL, p.revoked, ""},
			{"good with CRL", p.crlFile, p.good, "good-client"},
			{"server certificate as client", "", p.server, "server"},
		} {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				srv := serverConfig(t, Info{
					CertFile: p.server.CertFile, KeyFile: p.server.KeyFile, TrustedCAFile: p.caFile,
					ClientCertAuth: true, CRLFile: tc.crl, MaxVersion: version,
				})
				r := handshake(t, srv, client(t, roots, tc.cert))
				if r.ok() != (tc.wantCN != "") {
					t.Fatalf("ok = %v, want %v (client: %v, server: %v)", r.ok(), tc.wantCN != "", r.clientErr, r.serverErr)
				}
				if got := peerCN(r.server); got != tc.wantCN {
					t.Errorf("server saw client %q, want %q", got, tc.wantCN)
				}
				if tc.wantCN != "" && r.server.Version != map[string]uint16{"TLS1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13}[version] {
					t.Errorf("version %x", r.server.Version)
				}
			})
		}
	}
}

// TestRevokedCannotResume: a client whose certificate is revoked after it connected does not
// get back in by resuming its TLS session.
func TestRevokedCannotResume(t *testing.T) {
	for _, version := range []string{"TLS1.2", "TLS1.3"} {
		for _, tc := range []struct {
			name   string
			cert   func(*pki) Info
			wantOK bool
		}{
			{"good resumes", func(p *pki) Info { return p.good }, true},
			{"revoked meanwhile", func(p *pki) Info { return p.revoked }, false},
		} {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				p := newPKI(t)
				write(t, p.crlFile, crlPEM(t, p.ca, p.caKey, 1)) // nothing revoked yet
				srv := serverConfig(t, Info{
					CertFile: p.server.CertFile, KeyFile: p.server.KeyFile, TrustedCAFile: p.caFile,
					ClientCertAuth: true, CRLFile: p.crlFile, MaxVersion: version,
				})
				cli := client(t, []*x509.Certificate{p.ca}, tc.cert(p))
				cli.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				if r := handshake(t, srv, cli); !r.ok() {
					t.Fatalf("first connection: client %v, server %v", r.clientErr, r.serverErr)
				}
				write(t, p.crlFile, crlPEM(t, p.ca, p.caKey, 2, revokedSerial))
				r := handshake(t, srv, cli)
				if r.ok() != tc.wantOK {
					t.Fatalf("second connection ok = %v, want %v (resumed %v; client: %v, server: %v)",
						r.ok(), tc.wantOK, r.client.DidResume, r.clientErr, r.serverErr)
				}
				if tc.wantOK && !r.client.DidResume {
					t.Errorf("the session was not resumed: the test does not test resumption")
				}
			})
		}
	}
}

func TestRotation(t *testing.T) {
	p := newPKI(t)
	newCA, newCAKey := newCert(t, template("new-ca", 3, true), nil, nil)
	newClient := p.leaf(t, "new-ca-client", 40, newCA, newCAKey)
	srv := serverConfig(t, Info{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile, TrustedCAFile: p.caFile, ClientCertAuth: true})
	cliInfo := Info{CertFile: p.good.CertFile, KeyFile: p.good.KeyFile, TrustedCAFile: p.caFile}
	cliOfInfo, err := cliInfo.ClientConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	roots := []*x509.Certificate{p.ca}
	// Steps run in order on the same server configuration (and ClientConfig).
	for _, step := range []struct {
		name       string
		rotate     func()
		cli        *tls.Config
		ok         bool
		wantSerial int64  // of the server's certificate
		wantCN     string // of the client's certificate, when set
	}{
		{"before", nil, client(t, roots, p.good), true, serverSerial, "good-client"},
		{"new server certificate", func() {
			c, k := newCert(t, template("server", 11, false), p.ca, p.caKey)
			write(t, p.server.CertFile, certPEM(c))
			write(t, p.server.KeyFile, keyPEM(t, k))
		}, client(t, roots, p.good), true, 11, "good-client"},
		{"client of a new CA before the CA file changed", nil, client(t, roots, newClient), false, 0, ""},
		{"CA file holding both CAs", func() {
			write(t, p.caFile, certPEM(p.ca), certPEM(newCA))
		}, client(t, roots, newClient), true, 11, "new-ca-client"},
		{"old CA still trusted", nil, client(t, roots, p.good), true, 11, "good-client"},
		{"CA file holding only the new CA", func() {
			write(t, p.caFile, certPEM(newCA))
		}, client(t, roots, p.good), false, 0, ""},
		{"ClientConfig's certificate rotated", func() {
			write(t, p.caFile, certPEM(p.ca))
			c, k := newCert(t, template("good-client-2", 22, false), p.ca, p.caKey)
			write(t, p.good.CertFile, certPEM(c))
			write(t, p.good.KeyFile, keyPEM(t, k))
		}, cliOfInfo, true, 11, "good-client-2"},
		{"key not matching the certificate", func() {
			_, k := newCert(t, template("server", 12, false), p.ca, p.caKey)
			write(t, p.server.KeyFile, keyPEM(t, k))
		}, client(t, roots, p.good), false, 0, ""},
		{"certificate matching the key again", func() {
			c, k := newCert(t, template("server", 13, false), p.ca, p.caKey)
			write(t, p.server.CertFile, certPEM(c))
			write(t, p.server.KeyFile, keyPEM(t, k))
		}, client(t, roots, p.good), true, 13, "good-client"}, // loaded before the steps ran
	} {
		if step.rotate != nil {
			step.rotate()
		}
		r := handshake(t, srv, step.cli)
		if r.ok() != step.ok {
			t.Fatalf("%s: ok = %v, want %v (client: %v, server: %v)", step.name, r.ok(), step.ok, r.clientErr, r.serverErr)
		}
		if !step.ok {
			continue
		}
		if got := peerSerial(r.client); got != step.wantSerial {
			t.Errorf("%s: server certificate serial %d, want %d", step.name, got, step.wantSerial)
		}
		if got := peerCN(r.server); got != step.wantCN {
			t.Errorf("%s: server saw client %q, want %q", step.name, got, step.wantCN)
		}
	}
}

func TestClientConfig(t *testing.T) {
	p := newPKI(t)
	self, err := SelfCert(filepath.Join(p.dir, "self"), []string{"127.0.0.1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	caServer := serverConfig(t, Info{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile})
	authServer := serverConfig(t, Info{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile, TrustedCAFile: p.caFile, ClientCertAuth: true})
	selfServer := serverConfig(t, self)
	for _, tc := range []struct {
		name     string
		info     Info
		insecure bool
		srv      *tls.Config
		ok       bool
		wantCN   string // the client certificate the server saw
		verified bool   // the client verified the server's chain
	}{
		{"CA verifies the server", Info{TrustedCAFile: p.caFile}, false, caServer, true, "", true},
		{"CA refuses a self-signed server", Info{TrustedCAFile: p.caFile}, false, selfServer, false, "", false},
		{"other CA refuses the server", Info{TrustedCAFile: p.caFile}, false, serverConfig(t, p.other), false, "", false},
		{"no CA, not insecure: system roots refuse", Info{}, false, selfServer, false, "", false},
		{"insecure accepts a self-signed server", Info{}, true, selfServer, true, "", false},
		{"insecure with a certificate", self, true, selfServer, true, "", false},
		{"client certificate presented", Info{CertFile: p.good.CertFile, KeyFile: p.good.KeyFile, TrustedCAFile: p.caFile}, false, authServer, true, "good-client", true},
		{"no client certificate", Info{TrustedCAFile: p.caFile}, false, authServer, false, "", false},
		{"client certificate of another CA", Info{CertFile: p.other.CertFile, KeyFile: p.other.KeyFile, TrustedCAFile: p.caFile}, false, authServer, false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, err := tc.info.ClientConfig(tc.insecure)
			if err != nil {
				t.Fatalf("ClientConfig: %v", err)
			}
			r := handshake(t, tc.srv, cli)
			if r.ok() != tc.ok {
				t.Fatalf("ok = %v, want %v (client: %v, server: %v)", r.ok(), tc.ok, r.clientErr, r.serverErr)
			}
			if !tc.ok {
				return
			}
			if got := peerCN(r.server); got != tc.wantCN {
				t.Errorf("server saw client %q, want %q", got, tc.wantCN)
			}
			if got := len(r.client.VerifiedChains) > 0; got != tc.verified {
				t.Errorf("verified = %v, want %v", got, tc.verified)
			}
			if r.client.NegotiatedProtocol != "h2" {
				t.Errorf("protocol %q, want h2", r.client.NegotiatedProtocol)
			}
		})
	}
}

func TestVersionsAndCipherSuites(t *testing.T) {
	p := newPKI(t)
	const suite = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	for _, tc := range []struct {
		name        string
		srv         Info
		cliMax      uint16 // the client's MaxVersion, 0 for the newest
		ok          bool
		wantVersion uint16
		wantSuite   string
	}{
		{"defaults", Info{}, 0, true, tls.VersionTLS13, ""},
		{"max TLS1.2", Info{MaxVersion: "TLS1.2"}, 0, true, tls.VersionTLS12, ""},
		{"min TLS1.3", Info{MinVersion: "TLS1.3"}, 0, true, tls.VersionTLS13, ""},
		{"min TLS1.3, client TLS1.2", Info{MinVersion: "TLS1.3"}, tls.VersionTLS12, false, 0, ""},
		{"min TLS1.2 max TLS1.2, client TLS1.2", Info{MinVersion: "TLS1.2", MaxVersion: "TLS1.2"}, tls.VersionTLS12, true, tls.VersionTLS12, ""},
		{"cipher suite caps at TLS1.2", Info{CipherSuites: []string{suite}}, 0, true, tls.VersionTLS12, suite},
		{"cipher suite with max TLS1.2", Info{CipherSuites: []string{suite}, MaxVersion: "TLS1.2"}, 0, true, tls.VersionTLS12, suite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := tc.srv
			i.CertFile, i.KeyFile = p.server.CertFile, p.server.KeyFile
			cli := client(t, []*x509.Certificate{p.ca}, Info{})
			cli.MaxVersion = tc.cliMax
			r := handshake(t, serverConfig(t, i), cli)
			if r.ok() != tc.ok {
				t.Fatalf("ok = %v, want %v (client: %v, server: %v)", r.ok(), tc.ok, r.clientErr, r.serverErr)
			}
			if !tc.ok {
				return
			}
			if r.server.Version != tc.wantVersion {
				t.Errorf("version %s, want %s", tls.VersionName(r.server.Version), tls.VersionName(tc.wantVersion))
			}
			if got := tls.CipherSuiteName(r.server.CipherSuite); tc.wantSuite != "" && got != tc.wantSuite {
				t.Errorf("cipher suite %s, want %s", got, tc.wantSuite)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	p := newPKI(t)
	garbage := filepath.Join(p.dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a PEM file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(p.dir, "missing.pem")
	crt, key := p.server.CertFile, p.server.KeyFile
	const suite = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	for _, tc := range []struct {
		name       string
		info       Info
		serverOnly bool // ClientConfig does not check this
		want       string
	}{
		{"bad min version", Info{CertFile: crt, KeyFile: key, MinVersion: "TLS1.1"}, false, "unexpected TLS version"},
		{"bad max version", Info{CertFile: crt, KeyFile: key, MaxVersion: "tls1.3"}, false, "unexpected TLS version"},
		{"min greater than max", Info{CertFile: crt, KeyFile: key, MinVersion: "TLS1.3", MaxVersion: "TLS1.2"}, false, "greater than max"},
		{"unknown cipher suite", Info{CertFile: crt, KeyFile: key, CipherSuites: []string{"TLS_NO_SUCH_SUITE"}}, false, "cipher suite"},
		{"cipher suites with max TLS1.3", Info{CertFile: crt, KeyFile: key, CipherSuites: []string{suite}, MaxVersion: "TLS1.3"}, false, "cipher suites cannot be configured"},
		{"cipher suites with min TLS1.3", Info{CertFile: crt, KeyFile: key, CipherSuites: []string{suite}, MinVersion: "TLS1.3"}, false, "cipher suites cannot be configured"},
		{"client cert auth without CA", Info{CertFile: crt, KeyFile: key, ClientCertAuth: true}, true, "trusted CA"},
		{"no certificate", Info{}, true, "certificate and a key"},
		{"missing certificate", Info{CertFile: missing, KeyFile: key}, false, "missing.pem"},
		{"missing key", Info{CertFile: crt, KeyFile: missing}, false, "missing.pem"},
		{"certificate without key", Info{CertFile: crt}, false, "load"},
		{"missing CA", Info{CertFile: crt, KeyFile: key, TrustedCAFile: missing}, false, "missing.pem"},
		{"CA file without certificates", Info{CertFile: crt, KeyFile: key, TrustedCAFile: garbage}, false, "no certificate"},
		{"missing CRL", Info{CertFile: crt, KeyFile: key, TrustedCAFile: p.caFile, CRLFile: missing}, false, "missing.pem"},
		{"CRL not a CRL", Info{CertFile: crt, KeyFile: key, TrustedCAFile: p.caFile, CRLFile: garbage}, false, "revocation list"},
		{"key not matching the certificate", Info{CertFile: crt, KeyFile: p.good.KeyFile}, false, "private key does not match"},
		{"garbage certificate", Info{CertFile: garbage, KeyFile: key}, false, "load"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, c *tls.Config, err error) {
				t.Helper()
				if err == nil || c != nil {
					t.Fatalf("%s: config %v, error %v; want an error containing %q", what, c != nil, err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q, want it to contain %q", what, err, tc.want)
				}
			}
			c, err := tc.info.ServerConfig()
			check("ServerConfig", c, err)
			if !tc.serverOnly {
				c, err = tc.info.ClientConfig(false)
				check("ClientConfig", c, err)
			}
		})
	}
}

// TestFilesRemovedAfterStart: a server whose files disappear refuses handshakes (with an
// error, not a panic) and serves again once they are back.
func TestFilesRemovedAfterStart(t *testing.T) {
	p := newPKI(t)
	srv := serverConfig(t, Info{CertFile: p.server.CertFile, KeyFile: p.server.KeyFile})
	cli := client(t, []*x509.Certificate{p.ca}, Info{})
	keyPEMBytes, err := os.ReadFile(p.server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p.server.KeyFile); err != nil {
		t.Fatal(err)
	}
	if r := handshake(t, srv, cli); r.ok() || r.serverErr == nil || !strings.Contains(r.serverErr.Error(), "no such file") {
		t.Fatalf("without the key: client %v, server %v; want the server to fail on the missing file", r.clientErr, r.serverErr)
	}
	block, _ := pem.Decode(keyPEMBytes)
	write(t, p.server.KeyFile, block)
	if r := handshake(t, srv, cli); !r.ok() {
		t.Fatalf("key back: client %v, server %v", r.clientErr, r.serverErr)
	}
}

func TestSelfCert(t *testing.T) {
	for _, tc := range []struct {
		name      string
		hosts     []string
		years     int
		wantYears int
		wantIPs   []string
		wantDNS   []string
	}{
		{"IP", []string{"127.0.0.1"}, 1, 1, []string{"127.0.0.1"}, nil},
		{"hosts with ports", []string{"127.0.0.1:2380", "localhost:2379", "[::1]:2379", "example.com"}, 3, 3,
			[]string{"127.0.0.1", "::1"}, []string{"localhost", "example.com"}},
		{"default validity", []string{"127.0.0.1", "localhost"}, 0, 1, []string{"127.0.0.1"}, []string{"localhost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fixtures", "peer") // not there yet
			info, err := SelfCert(dir, tc.hosts, tc.years)
			if err != nil {
				t.Fatal(err)
			}
			if info.CertFile != filepath.Join(dir, "cert.pem") || info.KeyFile != filepath.Join(dir, "key.pem") {
				t.Fatalf("files %q %q", info.CertFile, info.KeyFile)
			}
			certBytes, err := os.ReadFile(info.CertFile)
			if err != nil {
				t.Fatal(err)
			}
			keyBytes, err := os.ReadFile(info.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(certBytes)
			if block == nil {
				t.Fatalf("cert.pem holds no PEM block")
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if strings.Join(ips, ",") != strings.Join(tc.wantIPs, ",") || strings.Join(cert.DNSNames, ",") != strings.Join(tc.wantDNS, ",") {
				t.Errorf("SANs IP %v DNS %v, want %v %v", ips, cert.DNSNames, tc.wantIPs, tc.wantDNS)
			}
			want := time.Now().AddDate(tc.wantYears, 0, 0)
			if d := cert.NotAfter.Sub(want); d < -time.Hour || d > time.Hour {
				t.Errorf("NotAfter %v, want about %v", cert.NotAfter, want)
			}
			if st, err := os.Stat(info.KeyFile); err != nil || st.Mode().Perm()&0o077 != 0 {
				t.Errorf("key file mode %v (%v), want private", st.Mode(), err)
			}

			again, err := SelfCert(dir, []string{"other.example"}, 5)
			if err != nil {
				t.Fatal(err)
			}
			certAgain, _ := os.ReadFile(again.CertFile)
			keyAgain, _ := os.ReadFile(again.KeyFile)
			if again.CertFile != info.CertFile || again.KeyFile != info.KeyFile || string(certAgain) != string(certBytes) || string(keyAgain) != string(keyBytes) {
				t.Errorf("the second call did not reuse the files")
			}

			cli, err := Info{}.ClientConfig(true)
			if err != nil {
				t.Fatal(err)
			}
			r := handshake(t, serverConfig(t, info), cli)
			if !r.ok() {
				t.Fatalf("insecure client: client %v, server %v", r.clientErr, r.serverErr)
			}
			if !r.client.PeerCertificates[0].Equal(cert) {
				t.Errorf("the server did not present cert.pem")
			}
			// A client trusting the self-signed certificate itself verifies it.
			if slices.Contains(tc.wantIPs, "127.0.0.1") {
				r = handshake(t, serverConfig(t, info), client(t, []*x509.Certificate{cert}, Info{}))
				if !r.ok() {
					t.Fatalf("client trusting the certificate: client %v, server %v", r.clientErr, r.serverErr)
				}
			}
		})
	}
}
