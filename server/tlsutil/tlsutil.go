// Package tlsutil builds the TLS configurations of a member from etcd's flags: certificates
// re-read when they change on disk (no restart to rotate them, as etcd), client certificates
// required and checked against a CA and a revocation list, cipher suites and versions by
// etcd's names, and self-signed certificates for --auto-tls.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Info is one side's TLS settings (client or peer), as etcd's transport.TLSInfo.
type Info struct {
	CertFile, KeyFile string
	TrustedCAFile     string
	// ClientCertAuth requires a certificate signed by TrustedCAFile from every client (as a
	// TrustedCAFile alone does, etcd's rule).
	ClientCertAuth bool
	CRLFile        string
	// CipherSuites are Go's (and etcd's) names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
	// empty means Go's defaults.
	CipherSuites []string
	// MinVersion and MaxVersion are "TLS1.2" or "TLS1.3"; empty means TLS1.2 and the newest.
	MinVersion, MaxVersion string
}

// Empty reports whether no certificate is configured.
func (i Info) Empty() bool { return i.CertFile == "" && i.KeyFile == "" }

// ServerConfig returns a server configuration that loads the certificate, the CA and the
// revocation list again whenever their files change.
func (i Info) ServerConfig() (*tls.Config, error) {
	if i.Empty() {
		return nil, errors.New("tlsutil: a certificate and a key are needed")
	}
	if i.ClientCertAuth && i.TrustedCAFile == "" {
		return nil, errors.New("tlsutil: client certificate authentication needs a trusted CA file")
	}
	base, err := i.base()
	if err != nil {
		return nil, err
	}
	f := &files{info: i}
	if _, err := f.load(); err != nil { // refuse to start with files that do not load
		return nil, err
	}
	base.NextProtos = []string{"h2", "http/1.1"}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		l, err := f.load()
		if err != nil {
			return nil, err
		}
		c := base.Clone()
		c.GetConfigForClient = nil
		c.Certificates = []tls.Certificate{l.cert}
		// etcd's rule: a trusted CA, or --client-cert-auth, requires a client certificate
		// (a peer port with a CA refuses whoever has none).
		if i.ClientCertAuth || l.cas != nil {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = l.cas
		}
		if l.revoked != nil {
			// VerifyConnection, not VerifyPeerCertificate: it also runs when a session is
			// resumed, so a certificate revoked since cannot come back on a ticket.
			c.VerifyConnection = l.checkRevoked
		}
		return c, nil
	}
	return base, nil
}

// ClientConfig returns the configuration to dial with: this side's certificate (reloaded on
// change) as the client certificate, and the trusted CA to verify the server; insecure skips
// that verification, CA or not (--peer-auto-tls peers without a CA, the member calling its
// own port).
func (i Info) ClientConfig(insecure bool) (*tls.Config, error) {
	c, err := i.base()
	if err != nil {
		return nil, err
	}
	c.NextProtos = []string{"h2"}
	f := &files{info: i}
	l, err := f.load()
	if err != nil {
		return nil, err
	}
	if !i.Empty() {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			l, err := f.load()
			if err != nil {
				return nil, err
			}
			return &l.cert, nil
		}
	}
	switch {
	case l.cas != nil && !insecure:
		c.RootCAs = l.cas
	case insecure:
		c.InsecureSkipVerify = true
	}
	return c, nil
}

// Check validates the versions and cipher suites alone (etcd refuses bad ones at startup
// even without certificates).
func (i Info) Check() (*tls.Config, error) { return i.base() }

func (i Info) base() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	var err error
	if i.MinVersion != "" {
		if c.MinVersion, err = Version(i.MinVersion); err != nil {
			return nil, err
		}
	}
	if i.MaxVersion != "" {
		if c.MaxVersion, err = Version(i.MaxVersion); err != nil {
			return nil, err
		}
	}
	if c.MaxVersion != 0 && c.MaxVersion < c.MinVersion {
		return nil, fmt.Errorf("tlsutil: min version (%s) is greater than max version (%s)", i.MinVersion, i.MaxVersion)
	}
	if len(i.CipherSuites) > 0 {
		if c.MaxVersion == 0 || c.MaxVersion == tls.VersionTLS13 {
			// etcd's rule: cipher suites cannot be chosen for TLS 1.3.
			if i.MaxVersion == "" && c.MinVersion <= tls.VersionTLS12 {
				c.MaxVersion = tls.VersionTLS12
			} else {
				return nil, errors.New("tlsutil: cipher suites cannot be configured when only TLS1.3 or newer is allowed")
			}
		}
		for _, name := range i.CipherSuites {
			id, ok := cipherSuite(name)
			if !ok {
				return nil, fmt.Errorf("tlsutil: unexpected TLS cipher suite %q", name)
			}
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	return c, nil
}

// Version maps etcd's version names.
func Version(name string) (uint16, error) {
	switch name {
	case "TLS1.2":
		return tls.VersionTLS12, nil
	case "TLS1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tlsutil: unexpected TLS version %q (must be one of: TLS1.2, TLS1.3)", name)
}

func cipherSuite(name string) (uint16, bool) {
	for _, s := range tls.CipherSuites() {
		if s.Name == name {
			return s.ID, true
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		if s.Name == name {
			return s.ID, true
		}
	}
	return 0, false
}

// files caches what the files hold and loads them again when one of them changes.
type files struct {
	info Info
	mu   sync.Mutex
	key  string // the files' names, sizes and modification times last loaded
	last *loaded
}

type loaded struct {
	cert    tls.Certificate
	cas     *x509.CertPool
	revoked map[string]bool // serial numbers, as text
}

func (f *files) load() (*loaded, error) {
	i := f.info
	var stamp strings.Builder
	for _, name := range []string{i.CertFile, i.KeyFile, i.TrustedCAFile, i.CRLFile} {
		if name == "" {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, fmt.Errorf("tlsutil: %w", err)
		}
		fmt.Fprintf(&stamp, "%s:%d:%d;", name, st.Size(), st.ModTime().UnixNano())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last != nil && f.key == stamp.String() {
		return f.last, nil
	}
	l := &loaded{}
	if !i.Empty() {
		cert, err := tls.LoadX509KeyPair(i.CertFile, i.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsutil: load %s and %s: %w", i.CertFile, i.KeyFile, err)
		}
		l.cert = cert
	}
	if i.TrustedCAFile != "" {
		pemCAs, err := os.ReadFile(i.TrustedCAFile)
		if err != nil {
			return nil, fmt.Errorf("tlsutil: %w", err)
		}
		l.cas = x509.NewCertPool()
		if !l.cas.AppendCertsFromPEM(pemCAs) {
			return nil, fmt.Errorf("tlsutil: no certificate in %s", i.TrustedCAFile)
		}
	}
	if i.CRLFile != "" {
		b, err := os.ReadFile(i.CRLFile)
		if err != nil {
			return nil, fmt.Errorf("tlsutil: %w", err)
		}
		if p, _ := pem.Decode(b); p != nil {
			b = p.Bytes
		}
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("tlsutil: revocation list %s: %w", i.CRLFile, err)
		}
		l.revoked = map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			l.revoked[e.SerialNumber.String()] = true
		}
	}
	f.key, f.last = stamp.String(), l
	return l, nil
}

// checkRevoked refuses a client whose certificate (or any in its chain) is revoked.
func (l *loaded) checkRevoked(cs tls.ConnectionState) error {
	for _, c := range cs.PeerCertificates {
		if l.revoked[c.SerialNumber.String()] {
			return fmt.Errorf("tlsutil: certificate with serial %s revoked", c.SerialNumber)
		}
	}
	return nil
}
