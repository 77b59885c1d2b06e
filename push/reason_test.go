package push

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/scan"
)

func TestBoundReason(t *testing.T) {
	if r := boundReason("image has 3 vulnerabilities"); r != "image has 3 vulnerabilities" {
		t.Errorf("a short reason became %q", r)
	}
	long := strings.Repeat("a", maxRecordedReason-1) + "é" + strings.Repeat("'", 3<<20)
	r := boundReason(long)
	if want := strings.Repeat("a", maxRecordedReason-1) + "… (3147777 bytes)"; r != want {
		t.Errorf("a 3 MiB reason became %d bytes ending %q", len(r), r[max(0, len(r)-30):])
	}
}

// TestFindingBounded: a recorded finding keeps 256 bytes of each text
// the image wrote (a package's name and version), saying the whole length.
func TestFindingBounded(t *testing.T) {
	long := "4.17.0-" + strings.Repeat("a", 10_000)
	f := finding(scan.Vulnerability{ID: "CVE-2026-1", Package: "lodash", InstalledVersion: long, FixedVersion: "4.17.21", Severity: scan.SeverityHigh})
	if f.ID != "CVE-2026-1" || f.Package != "lodash" || f.FixedVersion != "4.17.21" || f.Severity != "HIGH" {
		t.Errorf("short texts changed: %+v", f)
	}
	if want := long[:maxRecordedName] + "… (10007 bytes)"; f.InstalledVersion != want {
		t.Errorf("a 10 KB version is recorded as %d bytes", len(f.InstalledVersion))
	}
}

// TestUserAgentBounded: a record keeps 512 bytes of a User-Agent header
// (Go reads headers up to 1 MiB).
func TestUserAgentBounded(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/1", nil)
	r.Header.Set("User-Agent", strings.Repeat("u", 500_000))
	if ua := RequesterOf(r).UserAgent; ua != strings.Repeat("u", maxRecordedUserAgent)+"… (500000 bytes)" {
		t.Errorf("a 500 KB User-Agent is recorded as %d bytes", len(ua))
	}
	r.Header.Set("User-Agent", "docker/27.3.1 go/go1.22.7")
	if ua := RequesterOf(r).UserAgent; ua != "docker/27.3.1 go/go1.22.7" {
		t.Errorf("a usual User-Agent is recorded as %q", ua)
	}
}
