// Package outcomes starts real imagegate servers in each situation whose
// answer a registry client must show its user — a policy refusal, a scan
// that cannot run, a missing permission — and writes the content to push
// there, for the client-output tests of test/clients and test/docker.
package outcomes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// Users of every server here: alice is a developer (pull, push) on
// team/**, bob a reader (pull) there.
var Users = map[string]string{"alice": "alice-Secret-1", "bob": "bob-Secret-2"}

// Repositories of the servers here.
const (
	// Enforced is under an enforce policy (HIGH, onerror reject).
	Enforced = "team/app"
	// Charts requires the annotation LintAnnotation on every manifest:
	// a refusal by policy that an artifact (a Helm chart) meets.
	Charts = "team/charts/demo"
	// LintAnnotation is what Charts requires.
	LintAnnotation = "org.opencontainers.image.source"
)

// authYAML is the auth section of every server here; dir holds its
// signing key.
func authYAML(t testing.TB, dir string) string {
	t.Helper()
	return liveserver.TeamAuthYAML(liveserver.WriteHtpasswd(t, Users), dir)
}

// policyYAML is the scan and validation policy of every server here.
const policyYAML = `validation:
  artifacts: true
  lint:
    - repositories: "team/charts/**"
      annotations: [%q]
scan:
%s  skipupdate: true
  policies:
    - repositories: "team/**"
      mode: enforce
      severity: HIGH
      onerror: reject
`

// StartPolicyGate starts imagegate scanning in process with Trivy on the
// fixture DB: the vulnerable image is refused in Enforced, an artifact
// without LintAnnotation in Charts, and bob's pushes for want of the push
// action.
func StartPolicyGate(t testing.TB, bin string) *liveserver.Server {
	t.Helper()
	dir := t.TempDir()
	cache := filepath.Join(dir, "trivy")
	trivytest.WriteFixtureDB(t, cache)
	return liveserver.StartWithConfig(t, bin, authYAML(t, dir)+
		fmt.Sprintf(policyYAML, LintAnnotation, fmt.Sprintf("  cachedir: %q\n", cache)))
}

// StartUnavailableGate starts imagegate whose scanner pool is one URL
// where nothing listens (a port that was free a moment ago): every scan
// fails for real, and the enforce policy's onerror: reject refuses the
// push.
func StartUnavailableGate(t testing.TB, bin string) *liveserver.Server {
	t.Helper()
	dir := t.TempDir()
	addrs, err := liveserver.FreeLoopbackAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	pool := fmt.Sprintf("  pool:\n    urls: [\"http://%s\"]\n    secret: %q\n", addrs[0], "0123456789abcdef0123456789abcdef-secret")
	return liveserver.StartWithConfig(t, bin, authYAML(t, dir)+fmt.Sprintf(policyYAML, LintAnnotation, pool))
}

// VulnerableImage is the fixture image with 1 CRITICAL, 2 HIGH (one of
// them unfixed), 1 MEDIUM and 1 LOW finding, as a Docker image (docker
// load accepts it).
func VulnerableImage(t testing.TB) v1.Image {
	t.Helper()
	return scantest.AsDocker(t, scantest.VulnerableImage(t))
}

// WriteTarball writes img as a docker-archive tarball tagged ref (docker
// load, crane push, skopeo docker-archive:) and returns its path.
func WriteTarball(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatalf("outcomes: write %s: %v", path, err)
	}
	return path
}

// WriteLayout writes img into a new OCI image layout, tagged tag, and
// returns the layout's directory (oras cp --from-oci-layout DIR:TAG).
func WriteLayout(t testing.TB, img v1.Image, tag string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("outcomes: write layout: %v", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatalf("outcomes: append image to layout: %v", err)
	}
	return dir
}

// Reasons every client must show its user, as the servers here word them
// for a push of the vulnerable image to Enforced by alice (policy,
// scan unavailable) and by bob (permission).
const (
	ReasonPolicy = `image has 3 vulnerabilities at or above HIGH (policy "team/**"): ` +
		`CVE-2099-1001 (CRITICAL musl 1.2.5-r10, fixed in 1.2.5-r11), ` +
		`CVE-2099-1002 (HIGH busybox 1.37.0-r18, fixed in 1.37.0-r19), ` +
		`CVE-2099-1004 (HIGH libxml2 2.13.8-r0, no fix yet)`
	ReasonUnavailable = `image not stored: it could not be scanned (no scanner is reachable) and policy "team/**" ` +
		`refuses unscanned images in team/app; push again in 30s; if it keeps failing, ask the registry's operators to check the scanner`
	ReasonPermission = `bob may pull but not push to team/app; ask an administrator for a role that grants push on team/app`
)

// Records returns the push records of repo on srv, read through the API
// as user (a pull token for repo, from the token service).
func Records(t testing.TB, srv *liveserver.Server, user, repo string) []*metadata.Record {
	t.Helper()
	reg, err := name.NewRegistry(srv.Addr, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := transport.NewWithContext(t.Context(), reg, &authn.Basic{Username: user, Password: Users[user]},
		http.DefaultTransport, []string{"repository:" + repo + ":pull"})
	if err != nil {
		t.Fatalf("outcomes: token for %s: %v", user, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/pushes?limit=100&repository="+url.QueryEscape(repo), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt, Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("outcomes: GET /api/v1/pushes: %v", err)
	}
	defer resp.Body.Close()
	var page struct {
		Records []*metadata.Record `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("outcomes: GET /api/v1/pushes?repository=%s: %d %v", repo, resp.StatusCode, err)
	}
	return page.Records
}

// Tagged returns the records of rs that name tag.
func Tagged(rs []*metadata.Record, tag string) []*metadata.Record {
	var out []*metadata.Record
	for _, r := range rs {
		if slices.Contains(r.Tags, tag) {
			out = append(out, r)
		}
	}
	return out
}
