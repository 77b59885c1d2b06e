package registry

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
)

// TestBadInputGetsOCIErrors sends malformed requests; each must get the
// expected 4xx with an OCI error body of the expected code — never a 500.
func TestBadInputGetsOCIErrors(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Limits.ManifestBytes = 1024 })
	manifestHeader := http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}
	big := strings.Repeat(" ", 2048)
	cases := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		body       io.Reader
		wantStatus int
		wantCode   string
	}{
		{"uppercase repository", "GET", "/v2/Library/App/manifests/latest", nil, nil, 400, "NAME_INVALID"},
		{"repository with ..", "GET", "/v2/a/../b/manifests/latest", nil, nil, 400, "NAME_INVALID"},
		{"repository with double slash", "GET", "/v2/a//b/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"repository trailing separator", "GET", "/v2/a-/blobs/sha256:" + strings.Repeat("a", 64), nil, nil, 400, "NAME_INVALID"},
		{"tag too long", "GET", "/v2/a/manifests/" + strings.Repeat("t", 129), nil, nil, 400, "TAG_INVALID"},
		{"tag starting with dot", "PUT", "/v2/a/manifests/.x", manifestHeader, strings.NewReader("{}"), 400, "TAG_INVALID"},
		{"manifest digest not hex", "GET", "/v2/a/manifests/sha256:zzzz", nil, nil, 400, "DIGEST_INVALID"},
		{"blob digest malformed", "GET", "/v2/a/blobs/sha256:123", nil, nil, 400, "DIGEST_INVALID"},
		{"blob digest unknown algorithm", "HEAD", "/v2/a/blobs/md5:" + strings.Repeat("a", 32), nil, nil, 400, "DIGEST_INVALID"},
		{"manifest too large (declared)", "PUT", "/v2/a/manifests/v1", manifestHeader, strings.NewReader(big), 413, "MANIFEST_TOO_LARGE"},
		{"manifest too large (streamed)", "PUT", "/v2/a/manifests/v1", manifestHeader, io.MultiReader(strings.NewReader(big)), 413, "MANIFEST_TOO_LARGE"},
		{"manifest not JSON", "PUT", "/v2/a/manifests/v1", manifestHeader, strings.NewReader("not json"), 400, "MANIFEST_INVALID"},
		{"manifest unknown media type", "PUT", "/v2/a/manifests/v1", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader("{}"), 400, "MANIFEST_INVALID"},
		{"manifest referencing missing blobs", "PUT", "/v2/a/manifests/v1", manifestHeader, strings.NewReader(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[]}`), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"manifest digest mismatch", "PUT", "/v2/a/manifests/sha256:" + strings.Repeat("b", 64), manifestHeader, strings.NewReader("{}"), 400, "DIGEST_INVALID"},
		{"unknown manifest", "GET", "/v2/a/manifests/nope", nil, nil, 404, "MANIFEST_UNKNOWN"},
		{"unknown blob", "GET", "/v2/a/blobs/sha256:" + strings.Repeat("c", 64), nil, nil, 404, "BLOB_UNKNOWN"},
		{"unknown upload", "GET", "/v2/a/blobs/uploads/9d6f3b2e-0000-0000-0000-000000000000", nil, nil, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"unknown endpoint under /v2", "GET", "/v2/a/unknown/thing", nil, nil, 404, "NOT_FOUND"},
		{"unknown endpoint", "GET", "/nope", nil, nil, 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := do(t, tc.method, s.base+tc.path, tc.header, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", status, tc.wantStatus, body)
			}
			if tc.method == "HEAD" {
				return // HEAD answers carry no body
			}
			if codes := ociErrorCodes(t, body); !slices.Contains(codes, tc.wantCode) {
				t.Fatalf("codes %v, want %s; body %s", codes, tc.wantCode, body)
			}
		})
	}
}

// TestManifestAtLimitAccepted checks the limit is "at most", not "below":
// a body of exactly limits.manifestbytes reaches distribution.
func TestManifestAtLimitAccepted(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Limits.ManifestBytes = 64 })
	body := bytes.Repeat([]byte(" "), 64)
	status, _, resp := do(t, "PUT", s.base+"/v2/a/manifests/v1",
		http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, bytes.NewReader(body))
	// Blank JSON is invalid, but invalid is a verdict on content, not size.
	if status != 400 || !slices.Contains(ociErrorCodes(t, resp), "MANIFEST_INVALID") {
		t.Fatalf("status %d body %s", status, resp)
	}
}

// TestUploadWithBadDigest finishes a real upload with a malformed digest.
func TestUploadWithBadDigest(t *testing.T) {
	s := startServer(t, nil)
	status, hdr, body := do(t, "POST", s.base+"/v2/a/blobs/uploads/", nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("open upload: %d %s", status, body)
	}
	loc := hdr.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(loc, "http") {
		loc = s.base + loc
	}
	status, _, body = do(t, "PUT", loc+sep+"digest=sha256:nothex", nil, strings.NewReader("data"))
	if status != 400 || !slices.Contains(ociErrorCodes(t, body), "DIGEST_INVALID") {
		t.Fatalf("status %d body %s", status, body)
	}
	status, _, body = do(t, "PUT", loc+sep+"digest=sha256:"+strings.Repeat("d", 64), nil, strings.NewReader("data"))
	if status != 400 || !slices.Contains(ociErrorCodes(t, body), "DIGEST_INVALID") {
		t.Fatalf("upload whose content does not match its digest: status %d body %s", status, body)
	}
	status, _, _ = do(t, "HEAD", s.base+"/v2/a/blobs/sha256:"+strings.Repeat("d", 64), nil, nil)
	if status != http.StatusNotFound {
		t.Fatalf("a blob whose digest did not verify is visible: HEAD %d", status)
	}
}
