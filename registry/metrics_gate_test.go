package registry

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/scan/scantest"
)

// enforceAll is an enforce policy on every repository, rejecting what it
// cannot scan.
func enforceAll(c *config.Config) {
	c.Scan.Policies = []config.ScanPolicy{{Repositories: "**", Mode: "enforce", Severity: "HIGH", OnError: "reject",
		Allowlist: []config.ScanException{}}}
}

// scrapeMetrics returns the debug listener's /metrics.
func scrapeMetrics(t *testing.T, s *testServer) string {
	t.Helper()
	status, _, body := do(t, http.MethodGet, "http://"+s.DebugAddr().String()+"/metrics", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	return string(body)
}

// TestGateMetricsAfterPushes pushes a clean image (accepted) and a
// vulnerable one (refused) through the /v2/ door and uploads a tarball,
// then reads the series they left on /metrics: outcomes with their labels,
// stage timings, scans, the scanner DB's age and the upload's bytes.
func TestGateMetricsAfterPushes(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		enforceAll(c)
		c.Metrics.Repositories = []string{"team/**"}
	}, WithScanner(&scantest.Fake{}))
	clean, vulnerable := scantest.CleanImage(t), scantest.VulnerableImage(t)
	ref, _ := name.ParseReference(s.host()+"/team/app:clean", name.Insecure)
	if err := remote.Write(ref, clean); err != nil {
		t.Fatalf("clean push: %v", err)
	}
	ref, _ = name.ParseReference(s.host()+"/other/app:bad", name.Insecure)
	var terr *transport.Error
	if err := remote.Write(ref, vulnerable); !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden {
		t.Fatalf("vulnerable push: %v, want 403", err)
	}
	var tarBuf bytes.Buffer
	tag, _ := name.NewTag("example.com/orig:v0")
	if err := tarball.Write(tag, clean, &tarBuf); err != nil {
		t.Fatal(err)
	}
	size := tarBuf.Len()
	if status, _, body := do(t, http.MethodPost, s.base+"/upload-image?repository=team/tarred&tag=1", nil, &tarBuf); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}

	body := scrapeMetrics(t, s)
	for _, want := range []string{
		`imagegate_push_pushes_total{door="registry",mode="enforce",outcome="accepted",reason="none",repository="team/**",verdict="pass"} 1`,
		`imagegate_push_pushes_total{door="registry",mode="enforce",outcome="refused",reason="vulnerabilities",repository="other",verdict="block"} 1`,
		`imagegate_push_pushes_total{door="upload",mode="enforce",outcome="accepted",reason="none",repository="team/**",verdict="pass"} 1`,
		`imagegate_push_duration_seconds_count{door="registry",outcome="accepted"} 1`,
		`imagegate_push_stage_duration_seconds_count{stage="store"} 2`,
		`imagegate_push_stage_duration_seconds_count{stage="scan"} 3`,
		`imagegate_scan_scans_total{result="ok"} 3`,
		`imagegate_scan_duration_seconds_count{result="ok"} 3`,
		`imagegate_scan_in_flight 0`,
		`imagegate_scan_db_loaded 1`,
		`imagegate_scan_db_max_age_seconds 604800`,
		`imagegate_upload_uploads_total{outcome="accepted"} 1`,
		fmt.Sprintf(`imagegate_upload_bytes_total{outcome="accepted"} %d`, size),
		`imagegate_upload_duration_seconds_count{outcome="accepted"} 1`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The fixture DB was built on 2025-07-01: its age is at least that.
	if age := sampleValue(t, body, "imagegate_scan_db_age_seconds"); age < time.Since(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)).Seconds()-60 {
		t.Errorf("imagegate_scan_db_age_seconds %v is younger than the fixture DB", age)
	}
	// Repository names never appear, only the configured pattern and "other".
	for _, repo := range []string{"team/app", "other/app", "team/tarred"} {
		if strings.Contains(body, `"`+repo+`"`) {
			t.Errorf("/metrics names repository %s", repo)
		}
	}
	lintMetrics(t, body)
}

// lintMetrics runs `promtool check metrics` on imagegate's own families
// of a scrape when PROMTOOL_BIN is set (scripts/prometheus.sh install).
func lintMetrics(t *testing.T, scrape string) {
	t.Helper()
	bin := os.Getenv("PROMTOOL_BIN")
	if bin == "" {
		if os.Getenv(liveserver.RequireAllEnv) == "1" {
			t.Fatal("PROMTOOL_BIN is not set (scripts/prometheus.sh install prints it)")
		}
		t.Log("PROMTOOL_BIN is not set: promtool check metrics skipped")
		return
	}
	var ours strings.Builder
	for _, line := range strings.SplitAfter(scrape, "\n") {
		f := strings.Fields(line)
		if (len(f) > 2 && f[0] == "#" && strings.HasPrefix(f[2], "imagegate_")) || strings.HasPrefix(line, "imagegate_") {
			ours.WriteString(line)
		}
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(ours.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// sampleValue returns the value of the sample line starting with series.
func sampleValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no %s in the scrape", series)
	return 0
}

// TestReadyzReportsStaleDB: a DB older than scan.maxdbage degrades /readyz
// (200, "degraded", the age under info) — the debug listener says why —
// while /healthz, the load balancer's check, stays alive; without the
// limit the same DB is ok.
func TestReadyzReportsStaleDB(t *testing.T) {
	type answer struct {
		Status string                 `json:"status"`
		Checks map[string]checkResult `json:"checks"`
		Info   struct {
			Scanner scannerDB `json:"scanner"`
		} `json:"info"`
	}
	read := func(url string) (int, answer) {
		status, _, body := do(t, http.MethodGet, url, nil, nil)
		var a answer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("%s: %v: %s", url, err, body)
		}
		return status, a
	}
	s := startServer(t, nil, WithScanner(&scantest.Fake{}))
	status, a := read(s.base + "/readyz")
	if status != http.StatusOK || a.Status != "degraded" || a.Checks["scanner"].Status != "degraded" || a.Checks["scanner"].Error != "" {
		t.Errorf("public /readyz with a stale DB: %d %+v", status, a)
	}
	if got := a.Info.Scanner; !got.Loaded || got.AgeSeconds == nil || *got.AgeSeconds < int64(config.DefaultMaxDBAge.Seconds()) ||
		got.MaxAgeSeconds != int64(config.DefaultMaxDBAge.Seconds()) || got.Version != "fake" {
		t.Errorf("info.scanner: %+v", got)
	}
	_, a = read("http://" + s.DebugAddr().String() + "/readyz")
	if e := a.Checks["scanner"].Error; !strings.Contains(e, "over scan.maxdbage 168h0m0s") {
		t.Errorf("debug /readyz scanner error %q does not say the DB is over its age limit", e)
	}
	if status, _, body := do(t, http.MethodGet, s.base+"/healthz", nil, nil); status != http.StatusOK || !strings.Contains(string(body), "alive") {
		t.Errorf("/healthz with a stale DB: %d %s", status, body)
	}

	s = startServer(t, func(c *config.Config) { c.Scan.MaxDBAge = 0 }, WithScanner(&scantest.Fake{}))
	if status, a := read(s.base + "/readyz"); status != http.StatusOK || a.Status != "ready" || a.Checks["scanner"].Status != "ok" {
		t.Errorf("/readyz without an age limit: %d %+v", status, a)
	}
}

// TestCertExpiryMetric: with TLS, /metrics tells when the served
// certificate expires.
func TestCertExpiryMetric(t *testing.T) {
	certFile, keyFile, _ := selfSignedCert(t)
	s := startServer(t, func(c *config.Config) { c.HTTP.TLS.Certificate, c.HTTP.TLS.Key = certFile, keyFile })
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got := sampleValue(t, scrapeMetrics(t, s), "imagegate_tls_certificate_expiry_timestamp_seconds")
	if int64(got) != cert.NotAfter.Unix() {
		t.Errorf("expiry %v, want %d", got, cert.NotAfter.Unix())
	}
	if _, err := newCertReloader(config.TLS{Certificate: filepath.Join(t.TempDir(), "none.pem"), Key: keyFile},
		newHTTPMetrics(true).registry, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("a missing certificate file was accepted")
	}
}

// TestRouteOf: the route label names the endpoint from a fixed set.
func TestRouteOf(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/":                          "base",
		"/v2/a/b/manifests/v1":          "manifest",
		"/v2/a/blobs/uploads/x":         "blob_upload",
		"/upload-image":                 "upload",
		"/api/v1/uploads":               "upload",
		"/api/v1/uploads/123/events":    "upload",
		"/auth/token":                   "token",
		"/api/v1/pushes":                "api_pushes",
		"/api/v1/robots":                "api",
		"/api/v1/repositories/a/b/tags": "api_manifest",
		"/readyz":                       "readyz",
		"/favicon.ico":                  "other",
	} {
		if got := routeOf(path); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", path, got, want)
		}
	}
}
