package ui

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy/trivytest"
)

// users of the server: alice a developer and bob a reader on team/**
// (liveserver.TeamAuthYAML), carol bound to nothing (her personal
// namespace only), dave only there to be locked out, root the
// administrator (adminBinding).
var users = map[string]string{
	"alice": "alice-Secret-1", "bob": "bob-Secret-2", "carol": "carol-Secret-3", "dave": "dave-Secret-4",
	"root": "root-Secret-5",
}

// adminBinding makes root an administrator: one more entry of
// liveserver.TeamAuthYAML's auth.bindings.
const adminBinding = `    - subjects: [root]
      role: admin
      repositories: ["**"]
`

// Repositories pushed before the tests.
const (
	// teamRepo holds the vulnerable fixture (audit: accepted, findings
	// recorded); alice and bob may pull it, carol may not.
	teamRepo = "team/app"
	// privateRepo is alice's personal namespace: bob may not pull it.
	privateRepo = "alice/private"
)

// strictRepo is under an enforce policy: the vulnerable image is refused.
const strictRepo = "team/strict"

// scanYAML enforces HIGH in strictRepo and audits every other push, with
// Trivy on the fixture DB under cache.
const scanYAML = `scan:
  skipupdate: true
  cachedir: %q
  policies:
    - repositories: "team/strict"
      mode: enforce
      severity: HIGH
      onerror: reject
    - repositories: "**"
      mode: audit
      severity: HIGH
      allowlist:
        - id: %s
          reason: the busybox applet is not installed
          expires: "%s"
        - id: %s
          reason: was reviewed once
          expires: "2020-01-01"
`

// allowedUntil is when the allowlist entry of scantest.CVEHigh expires.
const allowedUntil = "2099-01-31"

// fixture is the running server and what was pushed to it.
type fixture struct {
	srv *liveserver.Server
	// vulnerable is the digest of teamRepo:1.0.
	vulnerable v1.Hash
	private    v1.Hash
	// sbom is an artifact in teamRepo whose subject is vulnerable.
	sbom v1.Hash
	// issuer is the OIDC provider people may sign in with.
	issuer *issuer
	// hooks receives the server's webhooks.
	hooks *hookReceiver
}

// startServer starts imagegate with the UI on, and pushes the vulnerable
// fixture image to teamRepo:1.0 and a clean one to privateRepo:1 as alice.
func startServer(t *testing.T, bin string) *fixture {
	t.Helper()
	dir := t.TempDir()
	cache := filepath.Join(dir, "trivy")
	trivytest.WriteFixtureDB(t, cache)
	is := newIssuer(t)
	hooks := newHookReceiver(t)
	cfg := liveserver.TeamAuthYAML(liveserver.WriteHtpasswd(t, users), dir) + adminBinding + is.oidcYAML() +
		fmt.Sprintf(scanYAML, cache, scantest.CVEHigh, allowedUntil, scantest.CVEMedium) + hooks.notificationsYAML(dir) + pullsYAML
	srv := liveserver.StartWithConfig(t, bin, cfg)
	f := &fixture{srv: srv, issuer: is, hooks: hooks}
	f.vulnerable = push(t, srv, teamRepo+":1.0", labelled(t, scantest.VulnerableImage(t)))
	f.private = push(t, srv, privateRepo+":1", scantest.CleanImage(t))
	f.sbom = push(t, srv, teamRepo+":sbom", sbomOf(t, labelled(t, scantest.VulnerableImage(t))))
	return f
}

// sourceLabel is a label of the vulnerable image, for its image page.
const sourceLabel = "https://git.example.test/team/app"

// labelled is img with the OCI source label.
func labelled(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.source": sourceLabel}
	out, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sbomType is the artifact type of the SBOM fixture.
const sbomType = "application/vnd.example.sbom+json"

// sbomOf is an OCI 1.1 artifact whose subject is img: an SBOM, its
// config's media type its artifact type.
func sbomOf(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	layer := static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), types.MediaType("application/spdx+json"))
	art, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), sbomType),
		mutate.Addendum{Layer: layer, MediaType: "application/spdx+json"})
	if err != nil {
		t.Fatal(err)
	}
	out, ok := mutate.Subject(art, *desc).(v1.Image)
	if !ok {
		t.Fatal("mutate.Subject of an image is not an image")
	}
	return out
}

// push writes img to ref on srv as alice and returns its digest.
func push(t *testing.T, srv *liveserver.Server, ref string, img v1.Image) v1.Hash {
	t.Helper()
	if err := pushErr(t, srv, ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// noRedirects is an HTTP client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
