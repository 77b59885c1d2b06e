package registry

import (
	"crypto/tls"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/certreload"
)

// TestTLSReload: a running server serves a renewed certificate once its
// files are rotated (a new file renamed over each, as a renewal does) and
// the reload interval passed — no restart; a client that trusts only the
// new certificate is refused before and served after.
func TestTLSReload(t *testing.T) {
	certFile, keyFile, oldPool := selfSignedCert(t)
	var off atomic.Int64 // read by the server's handshakes
	clock := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	s := startServer(t, func(c *config.Config) {
		c.HTTP.TLS.Certificate, c.HTTP.TLS.Key = certFile, keyFile
	}, WithCertClock(clock))
	get := func(c *http.Client) error {
		resp, err := c.Get(s.base + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	oldClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: oldPool}, DisableKeepAlives: true}}
	if err := get(oldClient); err != nil {
		t.Fatalf("https with the first certificate: %v", err)
	}

	newCert, newKey, newPool := selfSignedCert(t)
	for src, dst := range map[string]string{newCert: certFile, newKey: keyFile} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+".new", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dst+".new", dst); err != nil {
			t.Fatal(err)
		}
	}
	newClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: newPool}, DisableKeepAlives: true}}
	if err := get(newClient); err == nil {
		t.Fatal("the renewed certificate was served before the reload interval passed")
	}
	off.Store(int64(certreload.DefaultInterval))
	if err := get(newClient); err != nil {
		t.Fatalf("https after the rotation, trusting only the renewed certificate: %v", err)
	}
	if err := get(oldClient); err == nil {
		t.Error("the first certificate is still served after the rotation")
	}
}
