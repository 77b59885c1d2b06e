package gate

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// TestVulnerabilitiesAndRescanAPI: the full report of a push is served by
// the API, and a rescan returns the same findings from the current DB.
func TestVulnerabilitiesAndRescanAPI(t *testing.T) {
	host, _ := server(t, policy("audit", "HIGH"))
	img := scantest.VulnerableImage(t)
	if err := push(t, host, "api/app:1", img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	base := "http://" + host + "/api/v1/repositories/api/app/manifests/" + d.String()
	for _, tc := range []struct{ method, path string }{{"GET", "/vulnerabilities"}, {"POST", "/scan"}} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Scan struct {
				Counts   map[string]int `json:"counts"`
				Findings []struct {
					ID string `json:"id"`
				} `json:"findings"`
			} `json:"scan"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %v", tc.method, tc.path, resp.StatusCode, err)
		}
		if len(body.Scan.Findings) != 5 || body.Scan.Counts["CRITICAL"] != 1 {
			t.Fatalf("%s %s: %+v", tc.method, tc.path, body.Scan)
		}
	}
	resp, err := http.Post("http://"+host+"/api/v1/repositories/api/app/manifests/sha256:"+strings.Repeat("0", 64)+"/scan", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("rescan of an unknown manifest: %d", resp.StatusCode)
	}
}

// TestScanCommand runs the real binary: `imagegate serve` on the fixture DB
// (air-gapped: skipupdate) and `imagegate scan REPO@DIGEST` against it.
func TestScanCommand(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	cache := t.TempDir()
	trivytest.WriteFixtureDB(t, filepath.Join(cache, "trivy"))
	srv := liveserver.Start(t, bin, "IMAGEGATE_SCAN_CACHEDIR="+filepath.Join(cache, "trivy"), "IMAGEGATE_SCAN_SKIPUPDATE=true")
	img := scantest.VulnerableImage(t)
	if err := push(t, srv.Addr, "cli/app:1", img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	out, err := exec.Command(bin, "scan", "--server", srv.URL, srv.Addr+"/cli/app@"+d.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("imagegate scan: %v\n%s", err, out)
	}
	for _, want := range []string{scantest.CVECritical, "CRITICAL", "musl", scantest.CVEHighUnfixed} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "SEVERITY") }) || len(lines) != 3+5 {
		t.Errorf("want a header and 5 findings:\n%s", out)
	}
}
