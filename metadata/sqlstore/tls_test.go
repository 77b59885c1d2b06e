package sqlstore

import (
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
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testCA is a CA that issues a server certificate for db.internal.
type testCA struct {
	file   string // the CA certificate, PEM
	server tls.Certificate
}

func newTestCA(t *testing.T, dir, name string) testCA {
	t.Helper()
	key := must(t, func() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der := must(t, func() ([]byte, error) { return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key) })
	ca := must(t, func() (*x509.Certificate, error) { return x509.ParseCertificate(der) })
	skey := must(t, func() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	stmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "db.internal"},
		DNSNames: []string{"db.internal"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	sder := must(t, func() ([]byte, error) { return x509.CreateCertificate(rand.Reader, stmpl, ca, &skey.PublicKey, key) })
	file := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCA{file: file, server: tls.Certificate{Certificate: [][]byte{sder}, PrivateKey: skey}}
}

func must[T any](t *testing.T, f func() (T, error)) T {
	t.Helper()
	v, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTLSModes: each mode accepts exactly the servers libpq's sslmode of
// the same name accepts, against a TLS server whose certificate names
// db.internal and is signed by the test CA.
func TestTLSModes(t *testing.T) {
	dir := t.TempDir()
	ca, other := newTestCA(t, dir, "ca"), newTestCA(t, dir, "other")
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.server}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cases := []struct {
		name string
		tls  TLS
		host string
		ok   bool
	}{
		{"require trusts any certificate", TLS{Mode: "require"}, "127.0.0.1", true},
		{"verify-ca ignores the name", TLS{Mode: "verify-ca", CAFile: ca.file}, "127.0.0.1", true},
		{"verify-ca refuses another CA", TLS{Mode: "verify-ca", CAFile: other.file}, "db.internal", false},
		{"verify-ca refuses unknown roots", TLS{Mode: "verify-ca"}, "db.internal", false},
		{"verify-full with the name", TLS{Mode: "verify-full", CAFile: ca.file}, "db.internal", true},
		{"verify-full refuses another name", TLS{Mode: "verify-full", CAFile: ca.file}, "127.0.0.1", false},
		{"verify-full refuses another CA", TLS{Mode: "verify-full", CAFile: other.file}, "db.internal", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tlsConfig(tc.tls, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if cfg, err := tlsConfig(TLS{Mode: "disable"}, "db"); cfg != nil || err != nil {
		t.Errorf("disable: %v, %v; want no TLS", cfg, err)
	}
	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := tlsConfig(TLS{Mode: "verify-full", CAFile: bad}, "db"); err == nil {
		t.Error("a CA file without certificates was accepted")
	}
}

// TestPostgresTLSEveryHost: a DSN listing several hosts keeps them all,
// each with the configured TLS (its own server name), and loses the
// plain-text retries of sslmode=prefer.
func TestPostgresTLSEveryHost(t *testing.T) {
	cc := must(t, func() (*pgx.ConnConfig, error) {
		return pgx.ParseConfig("postgres://u@db1.internal:5432,db2.internal:5433/ig?sslmode=prefer")
	})
	if err := postgresTLS(cc, TLS{Mode: "verify-full"}); err != nil {
		t.Fatal(err)
	}
	if cc.TLSConfig == nil || cc.TLSConfig.ServerName != "db1.internal" {
		t.Fatalf("first host TLS: %+v", cc.TLSConfig)
	}
	if len(cc.Fallbacks) != 1 || cc.Fallbacks[0].Host != "db2.internal" || cc.Fallbacks[0].TLSConfig == nil ||
		cc.Fallbacks[0].TLSConfig.ServerName != "db2.internal" {
		t.Fatalf("other hosts: %d fallbacks, %+v", len(cc.Fallbacks), cc.Fallbacks)
	}
}
