package scantest

import (
	"context"
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
)

// Contract runs the behaviour every scan.Scanner must show against s, whose
// DB must hold the fixture advisories (Advisories). It does not close s.
func Contract(t *testing.T, s scan.Scanner) {
	t.Run("status is ready", func(t *testing.T) {
		st := s.Status(t.Context())
		if !st.Ready || st.Err() != nil || st.DBVersion == "" {
			t.Fatalf("Status = %+v, want ready with a DB version", st)
		}
	})
	t.Run("vulnerable image", func(t *testing.T) {
		img := VulnerableImage(t)
		r := scanImage(t, s, img)
		CheckFindings(t, r, VulnerableFindings(), LayerDigests(t, img)[0])
	})
	t.Run("docker schema2 image", func(t *testing.T) {
		img := AsDocker(t, VulnerableImage(t))
		r := scanImage(t, s, img)
		CheckFindings(t, r, VulnerableFindings(), LayerDigests(t, img)[0])
	})
	t.Run("image on a vulnerable base", func(t *testing.T) {
		img := WithLayer(t, VulnerableImage(t), map[string]string{"srv/app/hello.txt": "hello\n"})
		r := scanImage(t, s, img)
		CheckFindings(t, r, VulnerableFindings(), LayerDigests(t, img)[0])
	})
	t.Run("clean image", func(t *testing.T) {
		r := scanImage(t, s, CleanImage(t))
		CheckFindings(t, r, nil, "")
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		target := NewBlobs().Target(t, "scantest/cancelled", VulnerableImage(t))
		if _, err := s.Scan(ctx, target); !errors.Is(err, context.Canceled) {
			t.Fatalf("Scan with a cancelled context: err = %v, want one wrapping context.Canceled", err)
		}
	})
	t.Run("invalid targets", func(t *testing.T) {
		good := NewBlobs().Target(t, "scantest/invalid", VulnerableImage(t))
		for name, mutate := range map[string]func(*scan.Target){
			"index media type": func(t *scan.Target) { t.MediaType = "application/vnd.oci.image.index.v1+json" },
			"wrong config":     func(t *scan.Target) { t.RawConfig = []byte("{}") },
			"wrong digest":     func(t *scan.Target) { t.Digest = digest.FromString("other") },
			"missing layer":    func(t *scan.Target) { t.Layers = nil },
			"no opener":        func(t *scan.Target) { t.Open = nil },
		} {
			target := good
			target.Layers = slices.Clone(good.Layers)
			mutate(&target)
			if _, err := s.Scan(t.Context(), target); !errors.Is(err, scan.ErrInvalidTarget) {
				t.Errorf("%s: err = %v, want one wrapping scan.ErrInvalidTarget", name, err)
			}
		}
	})
}

// scanImage scans img from a fresh blob store and fails t on error.
func scanImage(t *testing.T, s scan.Scanner, img v1.Image) *scan.Report {
	t.Helper()
	target := NewBlobs().Target(t, "scantest/contract", img)
	r, err := s.Scan(t.Context(), target)
	if err != nil {
		t.Fatalf("Scan(%s): %v", target.Digest, err)
	}
	return r
}

// CheckFindings fails t unless r reports OS and exactly want (compared on
// ID, package, versions, severity and title), each fixed finding with
// status "fixed" and each unfixed one "affected", and every finding in
// layer (when layer is not empty).
func CheckFindings(t testing.TB, r *scan.Report, want []scan.Vulnerability, layer digest.Digest) {
	t.Helper()
	if r.OS != OS {
		t.Errorf("report OS = %q, want %q", r.OS, OS)
	}
	if r.Scanner == "" || r.DBVersion == "" || r.ScannedAt.IsZero() {
		t.Errorf("report lacks scanner, DB version or scan time: %+v", r)
	}
	type key struct {
		ID, Package, Installed, Fixed, Title string
		Severity                             scan.Severity
	}
	keyOf := func(v scan.Vulnerability) key {
		return key{v.ID, v.Package, v.InstalledVersion, v.FixedVersion, v.Title, v.Severity}
	}
	got := make([]key, len(r.Vulnerabilities))
	for i, v := range r.Vulnerabilities {
		got[i] = keyOf(v)
		wantStatus := map[bool]string{true: "fixed", false: "affected"}[v.Fixed()]
		if v.Status != wantStatus {
			t.Errorf("%s status = %q, want %q", v.ID, v.Status, wantStatus)
		}
		if layer != "" && v.Layer != layer {
			t.Errorf("%s layer = %s, want %s", v.ID, v.Layer, layer)
		}
	}
	wantKeys := make([]key, len(want))
	for i, v := range want {
		wantKeys[i] = keyOf(v)
	}
	if !slices.Equal(got, wantKeys) {
		t.Errorf("findings:\n got %+v\nwant %+v", got, wantKeys)
	}
}
