//go:build !js

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/internal/syncbuf"
	"github.com/metastore/metastore/internal/testcerts"
)

// httpsSpec is a single member serving its client URL over https, with the given TLS flags.
// launch writes http:// client URLs first; the https:// ones here come after them, and the
// last value of a flag is the one that counts (Go's flag package, as etcd's).
func httpsSpec(t *testing.T, extra ...string) *spec {
	sp := newSpec(t)
	u := "https://" + sp.client
	sp.extra = append([]string{"--listen-client-urls", u, "--advertise-client-urls", u}, extra...)
	return sp
}

// tlsCtl runs the real etcdctl against endpoints (URLs with their scheme).
func tlsCtl(endpoints string, args ...string) (string, error) {
	return ctlWithin(20*time.Second, endpoints, args...)
}

// ctlWithin runs etcdctl with a command timeout: a client whose handshakes fail retries
// until then, so calls expected to fail get a shorter one.
func ctlWithin(timeout time.Duration, endpoints string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+20*time.Second)
	defer cancel()
	return runCtl(ctx, endpoints, append([]string{"--dial-timeout=5s", fmt.Sprintf("--command-timeout=%v", timeout)}, args...)...)
}

// refusedCtl is etcdctl for a call expected to fail.
func refusedCtl(endpoints string, args ...string) (string, error) {
	return ctlWithin(5*time.Second, endpoints, args...)
}

// ctl runs tlsCtl, or refusedCtl unless ok.
func ctl(ok bool, endpoints string, args ...string) (string, error) {
	if ok {
		return tlsCtl(endpoints, args...)
	}
	return refusedCtl(endpoints, args...)
}

// ctlFlags are etcdctl's TLS flags for a CA and a client certificate.
func ctlFlags(ca string, p *testcerts.Pair) []string {
	var out []string
	if ca != "" {
		out = append(out, "--cacert", ca)
	}
	if p != nil {
		out = append(out, "--cert", p.CertFile, "--key", p.KeyFile)
	}
	return out
}

// clientTLS is a crypto/tls client configuration trusting the CA in caFile (none: the
// system's) and presenting p (nil: no certificate).
func clientTLS(t *testing.T, caFile string, p *testcerts.Pair) *tls.Config {
	t.Helper()
	c := &tls.Config{}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(b) {
			t.Fatalf("no certificate in %s", caFile)
		}
	}
	if p != nil {
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// httpsClient is an HTTP client speaking HTTP/2 (by ALPN) or HTTP/1.1 over TLS with cfg, on
// new connections only (so each request does a handshake of its own).
func httpsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true, DisableKeepAlives: true,
	}}
}

// health asks /health over https and returns the status and body, or the request's error.
func health(cfg *tls.Config, endpoint string) (int, string, error) {
	resp, err := httpsClient(cfg).Get("https://" + endpoint + "/health")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// backgroundCtl runs etcdctl until the test ends (watch) and returns its output as it comes.
func backgroundCtl(t *testing.T, endpoints string, args ...string) *syncbuf.Buffer {
	t.Helper()
	cmd := exec.Command(bins.etcdctl, append([]string{"--endpoints", endpoints}, args...)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return out
}

// TestTLSClientCertAuth: a member on an https:// client URL requiring client certificates
// signed by its CA. The real etcdctl works with the CA and a client certificate, and fails
// without a certificate, with one of another CA, or without trusting the server's CA;
// clientv3, /health, the JSON gateway and gRPC-Web (both over HTTP/2) work on the same port.
func TestTLSClientCertAuth(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue("server", "server", "127.0.0.1")
	cli := ca.Issue("client", "client")
	otherCA := testcerts.NewCA(t, dir, "other-ca")
	stranger := otherCA.Issue("stranger", "client")
	m := httpsSpec(t, "--cert-file", srv.CertFile, "--key-file", srv.KeyFile,
		"--trusted-ca-file", ca.CertFile, "--client-cert-auth").start(t)
	ep := "https://" + m.endpoint
	good := ctlFlags(ca.CertFile, &cli)

	tests := []struct {
		name  string
		flags []string
		ok    bool
	}{
		{"CA and client certificate", good, true},
		{"no client certificate", ctlFlags(ca.CertFile, nil), false},
		{"client certificate of another CA", ctlFlags(ca.CertFile, &stranger), false},
		{"server's CA not trusted", ctlFlags("", &cli), false},
	}
	wrote := 0
	for i, tt := range tests {
		key := fmt.Sprintf("tls/%d", i)
		out, err := ctl(tt.ok, ep, append(tt.flags, "put", key, "v")...)
		if tt.ok && (err != nil || !strings.Contains(out, "OK")) {
			t.Fatalf("%s: etcdctl put: %v\n%s", tt.name, err, out)
		}
		if !tt.ok && err == nil {
			t.Fatalf("%s: etcdctl put succeeded:\n%s", tt.name, out)
		}
		if !tt.ok {
			t.Logf("%s: etcdctl put refused: %v: %s", tt.name, err, strings.TrimSpace(out))
		}
		if tt.ok {
			wrote++
		}
	}

	// Only the accepted puts were written.
	out, err := tlsCtl(ep, append(good, "get", "tls/", "--prefix", "--count-only", "-w", "fields")...)
	if err != nil || !strings.Contains(out, fmt.Sprintf(`"Count" : %d`+"\n", wrote)) {
		t.Fatalf("get --count-only: %v, want count %d:\n%s", err, wrote, out)
	}

	// put, get -w json, watch from revision 1, endpoint status.
	if out, err := tlsCtl(ep, append(good, "put", "greeting", "hello over tls")...); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("etcdctl put: %v\n%s", err, out)
	}
	out, err = tlsCtl(ep, append(good, "get", "greeting", "-w", "json")...)
	var got struct {
		Kvs []struct {
			Key, Value []byte
		} `json:"kvs"`
	}
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Kvs) != 1 ||
		string(got.Kvs[0].Key) != "greeting" || string(got.Kvs[0].Value) != "hello over tls" {
		t.Fatalf("etcdctl get -w json: %v\n%s", err, out)
	}
	w := backgroundCtl(t, ep, append(good, "watch", "greeting", "--rev", "1")...)
	want := "PUT\ngreeting\nhello over tls\n"
	pollUntil(t, func() bool { return strings.Contains(w.String(), want) },
		func() string { return fmt.Sprintf("etcdctl watch --rev 1 printed %q, want %q", w.String(), want) })
	out, err = tlsCtl(ep, append(good, "endpoint", "status", "-w", "json")...)
	var sts []endpointStatus
	if err != nil || json.Unmarshal([]byte(out), &sts) != nil || len(sts) != 1 || sts[0].Endpoint != ep ||
		sts[0].Status.Leader == 0 || sts[0].Status.Header.Revision < 3 {
		t.Fatalf("etcdctl endpoint status: %v\n%s", err, out)
	}

	// clientv3 with a tls.Config.
	cfg := clientTLS(t, ca.CertFile, &cli)
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, TLS: cfg, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx(t), "from/clientv3", "x"); err != nil {
		t.Fatalf("clientv3 put: %v", err)
	}
	if g, err := c.Get(ctx(t), "greeting"); err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "hello over tls" {
		t.Fatalf("clientv3 get: %v %v", g, err)
	}

	// /health over https, with the client certificate and without.
	code, body, err := health(cfg, m.endpoint)
	var h map[string]string
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil || h["health"] != "true" {
		t.Fatalf("GET /health with a client certificate: %v %d %q", err, code, body)
	}
	if code, body, err := health(clientTLS(t, ca.CertFile, nil), m.endpoint); err == nil {
		t.Fatalf("GET /health without a client certificate: %d %q, want the handshake refused", code, body)
	}

	// The JSON gateway over HTTP/2.
	hc := httpsClient(cfg)
	resp, err := hc.Post("https://"+m.endpoint+"/v3/kv/range", "application/json",
		strings.NewReader(`{"key":"`+b64("greeting")+`"}`))
	if err != nil {
		t.Fatalf("POST /v3/kv/range: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got.Kvs = nil
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || json.Unmarshal(b, &got) != nil ||
		len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "hello over tls" {
		t.Fatalf("POST /v3/kv/range: %s %d %s", resp.Proto, resp.StatusCode, b)
	}

	// A gRPC-Web unary call over HTTP/2.
	rr, err := (&pb.RangeRequest{Key: []byte("greeting")}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "https://"+m.endpoint+"/etcdserverpb.KV/Range", bytes.NewReader(grpcWebFrame(0, rr)))
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	req.Header.Set("X-Grpc-Web", "1")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatalf("gRPC-Web Range: %v", err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web") {
		t.Fatalf("gRPC-Web Range: %s %d %v %q", resp.Proto, resp.StatusCode, resp.Header, b)
	}
	frames, err := grpcWebFrames(b)
	if err != nil || len(frames) != 2 || frames[0].flag != 0 || frames[1].flag != 0x80 {
		t.Fatalf("gRPC-Web Range: frames %+v, %v, want a data frame then a trailer frame; headers %v", frames, err, resp.Header)
	}
	if tr := strings.ToLower(string(frames[1].data)); !strings.Contains(tr, "grpc-status: 0") {
		t.Fatalf("gRPC-Web Range: trailer %q", frames[1].data)
	}
	var rresp pb.RangeResponse
	if err := rresp.Unmarshal(frames[0].data); err != nil || len(rresp.Kvs) != 1 ||
		string(rresp.Kvs[0].Key) != "greeting" || string(rresp.Kvs[0].Value) != "hello over tls" {
		t.Fatalf("gRPC-Web Range: response %v, %v", rresp.String(), err)
	}
}

func b64(s string) string {
	b, _ := json.Marshal([]byte(s)) // a JSON string of the base64
	return strings.Trim(string(b), `"`)
}

// grpcWebFrame is one gRPC-Web frame: a flag byte, the 4-byte big-endian length, the data.
func grpcWebFrame(flag byte, data []byte) []byte {
	out := make([]byte, 5+len(data))
	out[0] = flag
	binary.BigEndian.PutUint32(out[1:5], uint32(len(data)))
	copy(out[5:], data)
	return out
}

type webFrame struct {
	flag byte
	data []byte
}

func grpcWebFrames(b []byte) ([]webFrame, error) {
	var out []webFrame
	for len(b) > 0 {
		if len(b) < 5 {
			return out, fmt.Errorf("%d bytes left, short of a frame header", len(b))
		}
		n := binary.BigEndian.Uint32(b[1:5])
		if uint32(len(b)-5) < n {
			return out, fmt.Errorf("frame of %d bytes, %d left", n, len(b)-5)
		}
		out = append(out, webFrame{flag: b[0], data: b[5 : 5+n]})
		b = b[5+n:]
	}
	return out, nil
}

// TestTLSCRL: with --client-crl-file, a revoked client certificate is refused and another
// from the same CA accepted; a new revocation list written over the file takes effect
// without a restart.
func TestTLSCRL(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue("server", "server", "127.0.0.1")
	kept := ca.Issue("kept", "kept-client")
	revoked := ca.Issue("revoked", "revoked-client")
	crl := ca.CRL("crl.pem", revoked)
	m := httpsSpec(t, "--cert-file", srv.CertFile, "--key-file", srv.KeyFile,
		"--trusted-ca-file", ca.CertFile, "--client-cert-auth", "--client-crl-file", crl).start(t)
	ep := "https://" + m.endpoint

	tests := []struct {
		name string
		cert testcerts.Pair
		ok   bool
	}{
		{"certificate not revoked", kept, true},
		{"revoked certificate", revoked, false},
	}
	for _, tt := range tests {
		out, err := ctl(tt.ok, ep, append(ctlFlags(ca.CertFile, &tt.cert), "put", "crl/"+tt.name, "v")...)
		if tt.ok != (err == nil) {
			t.Errorf("%s: etcdctl put: err %v, want ok=%v:\n%s", tt.name, err, tt.ok, out)
		}
		code, body, err := health(clientTLS(t, ca.CertFile, &tt.cert), m.endpoint)
		if tt.ok != (err == nil && code == http.StatusOK) {
			t.Errorf("%s: GET /health: %v %d %q, want ok=%v", tt.name, err, code, body, tt.ok)
		}
	}

	// Revoke the other one too: a new list renamed over the file.
	if err := os.Rename(ca.CRL("crl-2.pem", revoked, kept), crl); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rewritten revocation list refusing the certificate revoked last", func() bool {
		_, _, err := health(clientTLS(t, ca.CertFile, &kept), m.endpoint)
		return err != nil
	})
	if out, err := refusedCtl(ep, append(ctlFlags(ca.CertFile, &kept), "put", "crl/late", "v")...); err == nil {
		t.Fatalf("etcdctl put with a certificate revoked since the start succeeded:\n%s", out)
	}
}

// servedSerial does a new TLS handshake with the member's client port and returns the
// serial number of the certificate it presented.
func servedSerial(cfg *tls.Config, endpoint string) (*big.Int, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", endpoint, cfg.Clone())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestTLSCertRotation: the files of --cert-file and --key-file replaced (by rename, as
// certificate managers do) with another certificate of the same CA: new connections get it
// without a restart, and etcdctl goes on working.
func TestTLSCertRotation(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	a := ca.Issue("server", "server", "127.0.0.1")
	m := httpsSpec(t, "--cert-file", a.CertFile, "--key-file", a.KeyFile).start(t)
	ep := "https://" + m.endpoint
	cfg := clientTLS(t, ca.CertFile, nil)

	if got, err := servedSerial(cfg, m.endpoint); err != nil || got.Cmp(a.Serial) != 0 {
		t.Fatalf("served certificate before the rotation: serial %v, %v; want %v", got, err, a.Serial)
	}
	if out, err := tlsCtl(ep, "--cacert", ca.CertFile, "put", "before", "rotation"); err != nil {
		t.Fatalf("etcdctl put: %v\n%s", err, out)
	}

	b := ca.Issue("server-b", "server", "127.0.0.1")
	if b.Serial.Cmp(a.Serial) == 0 {
		t.Fatalf("the second certificate has the first one's serial %v", a.Serial)
	}
	for _, mv := range [][2]string{{b.CertFile, a.CertFile}, {b.KeyFile, a.KeyFile}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	var last any
	eventually(t, "new connections served the new certificate", func() bool {
		got, err := servedSerial(cfg, m.endpoint)
		if err != nil {
			last = err
			return false
		}
		last = got
		return got.Cmp(b.Serial) == 0
	})
	t.Logf("served serial %v after the rotation (was %v)", last, a.Serial)
	out, err := tlsCtl(ep, "--cacert", ca.CertFile, "get", "before", "--print-value-only")
	if err != nil || strings.TrimSpace(out) != "rotation" {
		t.Fatalf("etcdctl get after the rotation: %v\n%s", err, out)
	}
	if out, err := tlsCtl(ep, "--cacert", ca.CertFile, "put", "after", "rotation"); err != nil {
		t.Fatalf("etcdctl put after the rotation: %v\n%s", err, out)
	}
}

// TestTLSAutoTLS: --auto-tls on an https:// client URL makes a self-signed certificate under
// <data-dir>/fixtures/client and serves it; etcdctl works when told to skip verification and
// fails when it verifies.
func TestTLSAutoTLS(t *testing.T) {
	sp := httpsSpec(t, "--auto-tls")
	m := sp.start(t)
	ep := "https://" + m.endpoint

	tests := []struct {
		name string
		args []string
		want string // in the output; "" for a failure
	}{
		{"put skipping verification", []string{"--insecure-skip-tls-verify", "put", "auto", "tls"}, "OK"},
		{"get skipping verification", []string{"--insecure-skip-tls-verify", "get", "auto", "--print-value-only"}, "tls"},
		{"get verifying", []string{"get", "auto"}, ""},
	}
	for _, tt := range tests {
		out, err := ctl(tt.want != "", ep, tt.args...)
		if tt.want == "" && err == nil {
			t.Errorf("%s: etcdctl succeeded against a self-signed certificate:\n%s", tt.name, out)
		}
		if tt.want != "" && (err != nil || !strings.Contains(out, tt.want)) {
			t.Errorf("%s: etcdctl: %v, want %q:\n%s", tt.name, err, tt.want, out)
		}
	}

	certFile := filepath.Join(sp.dir, "fixtures", "client", "cert.pem")
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatalf("the generated certificate: %v", err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", certFile)
	}
	conn, err := tls.Dial("tcp", m.endpoint, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	served := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !bytes.Equal(served.Raw, blk.Bytes) {
		t.Fatalf("the member serves a certificate other than %s", certFile)
	}
	if err := served.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("the generated certificate: %v", err)
	}
}

// TestTLSPeers: three members talking to each other over TLS (https:// peer URLs, certificates
// of one CA required from both sides) and serving clients on plain http: a write through one
// member is read (linearizably) through another, member list shows the https peer URLs, and
// the peer port refuses a TLS client without a certificate.
func TestTLSPeers(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "peer-ca")
	c := &procCluster{t: t}
	var parts []string
	var pairs []testcerts.Pair
	for i := 1; i <= 3; i++ {
		sp := &spec{name: fmt.Sprintf("m%d", i), dir: filepath.Join(dir, fmt.Sprintf("m%d.etcd", i)), client: freePort(t), peer: freePort(t)}
		p := ca.Issue(fmt.Sprintf("peer%d", i), sp.name, "127.0.0.1")
		pairs = append(pairs, p)
		u := "https://" + sp.peer
		sp.extra = []string{"--listen-peer-urls", u, "--initial-advertise-peer-urls", u,
			"--peer-cert-file", p.CertFile, "--peer-key-file", p.KeyFile,
			"--peer-trusted-ca-file", ca.CertFile, "--peer-client-cert-auth"}
		c.specs = append(c.specs, sp)
		parts = append(parts, sp.name+"="+u)
	}
	for _, sp := range c.specs {
		sp.cluster = strings.Join(parts, ",")
		c.members = append(c.members, sp.launch(t))
	}
	for _, m := range c.members {
		m.waitReady(t)
	}

	if out, err := tlsCtl("http://"+c.members[0].endpoint, "put", "over", "peer tls"); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("etcdctl put through m1: %v\n%s", err, out)
	}
	out, err := tlsCtl("http://"+c.members[1].endpoint, "get", "over", "--consistency=l", "--print-value-only")
	if err != nil || strings.TrimSpace(out) != "peer tls" {
		t.Fatalf("etcdctl get (linearizable) through m2: %v\n%s", err, out)
	}

	out, err = tlsCtl("http://"+c.members[2].endpoint, "member", "list", "-w", "json")
	var ml struct {
		Members []struct {
			Name     string   `json:"name"`
			PeerURLs []string `json:"peerURLs"`
		} `json:"members"`
	}
	if err != nil || json.Unmarshal([]byte(out), &ml) != nil || len(ml.Members) != 3 {
		t.Fatalf("etcdctl member list: %v\n%s", err, out)
	}
	for _, mb := range ml.Members {
		if len(mb.PeerURLs) != 1 || !strings.HasPrefix(mb.PeerURLs[0], "https://127.0.0.1:") {
			t.Errorf("member %s has peer URLs %v, want one https:// URL", mb.Name, mb.PeerURLs)
		}
	}

	// The peer port: a member's certificate is accepted (the gRPC server's first frame
	// arrives), no certificate is refused.
	tests := []struct {
		name string
		cert *testcerts.Pair
		ok   bool
	}{
		{"a member's certificate", &pairs[0], true},
		{"no certificate", nil, false},
	}
	for _, tt := range tests {
		cfg := clientTLS(t, ca.CertFile, tt.cert)
		cfg.NextProtos = []string{"h2"}
		err := readFirstBytes(cfg, c.specs[1].peer)
		if tt.ok != (err == nil) {
			t.Errorf("peer port, %s: %v, want accepted=%v", tt.name, err, tt.ok)
		}
	}
}

// readFirstBytes connects over TLS and reads what the server sends first (an HTTP/2 server's
// settings): an error if the handshake or the read fails, as when the server refuses the
// client's certificate after a TLS 1.3 handshake.
func readFirstBytes(cfg *tls.Config, addr string) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 9)
	_, err = io.ReadFull(conn, buf)
	return err
}

// TestTLSBadConfig: TLS configurations the member refuses to start with, exiting non-zero
// with a message naming the problem, as etcd does.
func TestTLSBadConfig(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	srv := ca.Issue("server", "server", "127.0.0.1")
	certs := []string{"--cert-file", srv.CertFile, "--key-file", srv.KeyFile}
	https := func() []string {
		u := "https://" + freePort(t)
		return []string{"--listen-client-urls", u, "--advertise-client-urls", u}
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"https client URL without a certificate", https(), "--cert-file"},
		{"TLS 1.1 as the minimum, with certificates", append(append(https(), certs...), "--tls-min-version", "TLS1.1"), "TLS1.1"},
		// etcd checks the version names whether or not TLS is in use.
		{"TLS 1.1 as the minimum, plain http", []string{"--tls-min-version", "TLS1.1"}, "TLS1.1"},
	}
	for _, tt := range tests {
		// Its own peer port: the default one (2380) may be taken.
		peer := "http://" + freePort(t)
		args := append([]string{"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer}, tt.args...)
		out, err := runMetastore(t, args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() <= 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: metastore %v: %v, output %q; want an exit with an error mentioning %q", tt.name, args, err, out, tt.want)
		}
	}
}
