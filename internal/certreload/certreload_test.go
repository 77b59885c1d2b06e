package certreload

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
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pair is a self-signed certificate for 127.0.0.1 and its key, as PEM.
type pair struct{ cert, key []byte }

func newPair(t *testing.T, name string, notAfter time.Time) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pair{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
}

// install writes data to file the way a rotation does: a new file renamed
// over the old one.
func install(t *testing.T, file string, data []byte) {
	t.Helper()
	tmp := file + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// served is the common name of the certificate a TLS server at addr
// presents on a new connection.
func served(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the presented certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestReloadUnderRunningServer: a running TLS server presents the pair
// its files hold after a rotation — once the interval has passed, without
// a restart; a rotation that leaves a key not matching the certificate
// keeps the previous pair served (counted as failed) until the files are
// consistent again; the expiry metric follows the served certificate.
func TestReloadUnderRunningServer(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := newPair(t, "first", time.Now().Add(24*time.Hour))
	install(t, certFile, first.cert)
	install(t, keyFile, first.key)
	clk := &fakeClock{}
	reg := prometheus.NewRegistry()
	r, err := New(certFile, keyFile, Options{Now: clk.now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// Served as the registry serves: http.Server.ServeTLS with no files,
	// the pair from GetCertificate alone.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second,
		TLSConfig: &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	defer srv.Close()
	addr := ln.Addr().String()
	if got := served(t, addr); got != "first" {
		t.Fatalf("served %q at start", got)
	}

	second := newPair(t, "second", time.Now().Add(90*24*time.Hour))
	install(t, certFile, second.cert)
	install(t, keyFile, second.key)
	if got := served(t, addr); got != "first" {
		t.Errorf("served %q within the interval: the files are looked at once per interval", got)
	}
	clk.advance(DefaultInterval)
	if got := served(t, addr); got != "second" {
		t.Fatalf("served %q after the rotation, want second", got)
	}
	if got, want := testutil.ToFloat64(r.expiry), float64(r.Leaf().NotAfter.Unix()); got != want || r.Leaf().Subject.CommonName != "second" {
		t.Errorf("expiry metric %v, want the second certificate's %v", got, want)
	}

	third := newPair(t, "third", time.Now().Add(90*24*time.Hour))
	install(t, certFile, third.cert) // the key is not rotated yet
	clk.advance(DefaultInterval)
	if got := served(t, addr); got != "second" {
		t.Fatalf("served %q while the key does not match the certificate, want the previous pair", got)
	}
	if got := testutil.ToFloat64(r.reloads.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed reloads %v, want 1", got)
	}
	clk.advance(DefaultInterval)
	served(t, addr)
	if got := testutil.ToFloat64(r.reloads.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed reloads %v after an unchanged look, want 1 (a change is tried once)", got)
	}
	install(t, keyFile, third.key)
	clk.advance(DefaultInterval)
	if got := served(t, addr); got != "third" {
		t.Fatalf("served %q once the key matches, want third", got)
	}
	if got := testutil.ToFloat64(r.reloads.WithLabelValues("loaded")); got != 2 {
		t.Errorf("loaded reloads %v, want 2", got)
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	clk.advance(DefaultInterval)
	if got := served(t, addr); got != "third" {
		t.Errorf("served %q with the key file gone, want the previous pair", got)
	}
}

// TestNewRefusesABadPair: a server must not start without a pair.
func TestNewRefusesABadPair(t *testing.T) {
	dir := t.TempDir()
	p := newPair(t, "x", time.Now().Add(time.Hour))
	other := newPair(t, "y", time.Now().Add(time.Hour))
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := New(certFile, keyFile, Options{}); err == nil {
		t.Error("missing files accepted")
	}
	install(t, certFile, p.cert)
	install(t, keyFile, other.key)
	if _, err := New(certFile, keyFile, Options{}); err == nil {
		t.Error("a key that does not match the certificate accepted")
	}
}

// TestReloadSeesARewriteWithTheSameTimeAndSize: a rotation is told by the
// files' content. Regression: two rotations within one kernel clock tick
// left the same modification time and size (ECDSA keys are all one size),
// and the third pair was never loaded (CI, TestReloadUnderRunningServer).
func TestReloadSeesARewriteWithTheSameTimeAndSize(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	const padded = 4096 // every file the same size: PEM allows trailing text
	pad := func(b []byte) []byte {
		out := make([]byte, padded)
		copy(out, b)
		for i := len(b); i < padded; i++ {
			out[i] = '\n'
		}
		return out
	}
	first := newPair(t, "first", time.Now().Add(time.Hour))
	if err := os.WriteFile(certFile, pad(first.cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pad(first.key), 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(-time.Minute).Truncate(time.Second)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	clk := &fakeClock{}
	r, err := New(certFile, keyFile, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	second := newPair(t, "second", time.Now().Add(time.Hour))
	for f, data := range map[string][]byte{certFile: pad(second.cert), keyFile: pad(second.key)} {
		if err := os.WriteFile(f, data, 0o600); err != nil { // in place: same inode
			t.Fatal(err)
		}
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(DefaultInterval)
	if got, _ := r.GetCertificate(nil); got.Leaf.Subject.CommonName != "second" {
		t.Fatalf("served %q after an in-place rotation with the same time and size, want second", got.Leaf.Subject.CommonName)
	}
}
