package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SelfCert is --auto-tls: a self-signed certificate for hosts in dir (cert.pem, key.pem),
// made once and reused on later starts as etcd does, valid for validityYears (etcd's
// --self-signed-cert-validity, default 1).
func SelfCert(dir string, hosts []string, validityYears int) (Info, error) {
	info := Info{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	_, errC := os.Stat(info.CertFile)
	_, errK := os.Stat(info.KeyFile)
	if errC == nil && errK == nil {
		return info, nil
	}
	if validityYears <= 0 {
		validityYears = 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Info{}, fmt.Errorf("tlsutil: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Info{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return Info{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"metastore"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(validityYears, 0, 0),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Info{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Info{}, err
	}
	if err := writePEM(info.CertFile, "CERTIFICATE", der, 0o644); err != nil {
		return Info{}, err
	}
	if err := writePEM(info.KeyFile, "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return Info{}, err
	}
	return info, nil
}

func writePEM(name, typ string, der []byte, mode os.FileMode) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(name, b, mode); err != nil {
		return fmt.Errorf("tlsutil: %w", err)
	}
	return nil
}
