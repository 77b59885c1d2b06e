package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
)

// indexListing is an OCI index listing the manifest d (size bytes) n times.
func indexListing(t *testing.T, d string, size int64, n int) []byte {
	t.Helper()
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	ms := make([]descriptor, n)
	for i := range ms {
		ms[i] = descriptor{"application/vnd.oci.image.manifest.v1+json", d, size}
	}
	body, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestIndexFanOutIsBounded reproduces an amplification (red-team review
// of 2026-12-04): a pusher PUTs an index that lists one accepted image
// thousands of times (within limits.manifestbytes: 4 MiB holds ~27,000
// entries). The gate looked up every child's push record (two metadata
// queries each), the commit checked each child in storage and wrote every
// digest into one gc references entry: 1,000 entries took 0.3 s on
// bolt, and past ~1,700 the entry outgrew the fleet store's 256 KiB and
// the push was answered 503 "metadata store unreachable" — a 5xx the
// client retries for ever (before the fix: 5,000 entries → 503). Now an
// index may list validation.maxindexmanifests manifests (1,000): more
// is 403 DENIED naming the limit, and nothing is stored.
func TestIndexFanOutIsBounded(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		// Scanning on (audit, no scanner), so the index check applies.
		c.Scan.Policies = []config.ScanPolicy{{Repositories: "**", Mode: "audit", Severity: "HIGH", OnError: "accept"}}
	})
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(s.host()+"/fan/out:child", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	size, _ := img.Size()
	h := http.Header{"Content-Type": {"application/vnd.oci.image.index.v1+json"}}

	status, _, body := do(t, http.MethodPut, s.base+"/v2/fan/out/manifests/wide", h, bytes.NewReader(indexListing(t, d.String(), size, 5000)))
	if status != http.StatusForbidden || ociErrorCodes(t, body)[0] != "DENIED" ||
		!bytes.Contains(body, []byte(`"limit":"maxindexmanifests"`)) || !bytes.Contains(body, []byte(`"actual":5000`)) {
		t.Fatalf("index of 5,000 entries: %d %s, want 403 DENIED naming maxindexmanifests", status, body)
	}
	if status, _, _ := do(t, http.MethodHead, s.base+"/v2/fan/out/manifests/wide", nil, nil); status != http.StatusNotFound {
		t.Fatalf("the refused index was tagged: HEAD %d", status)
	}

	status, _, body = do(t, http.MethodPut, s.base+"/v2/fan/out/manifests/at-limit", h, bytes.NewReader(indexListing(t, d.String(), size, 1000)))
	if status != http.StatusCreated {
		t.Fatalf("index of 1,000 entries (the limit): %d %s", status, body)
	}
}
