package push

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// readCounter is a request body that counts the bytes read from it.
type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// ociErrorCode is the first OCI error code of a response body.
func ociErrorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %s", body)
	}
	return e.Errors[0].Code
}

// put sends a manifest PUT for repo/ref through door.
func put(door *Door, repo, ref, query, mediaType string, body io.Reader) *httptest.ResponseRecorder {
	target := "/v2/" + repo + "/manifests/" + ref
	if query != "" {
		target += "?" + query
	}
	req := httptest.NewRequest(http.MethodPut, target, body)
	req.Header.Set("Content-Type", mediaType)
	rec := httptest.NewRecorder()
	door.PutManifest(rec, req, repo, ref)
	return rec
}

// TestDoorAuthorizesBeforeReadingTheBody: a caller allowPush refuses gets
// its answer without the manifest being read.
func TestDoorAuthorizesBeforeReadingTheBody(t *testing.T) {
	h := newHarness(t)
	var asked string
	door := NewDoor(h.pipeline, func(w http.ResponseWriter, r *http.Request, repo string) bool {
		asked = repo
		w.WriteHeader(http.StatusUnauthorized)
		return false
	})
	body := &readCounter{r: strings.NewReader(strings.Repeat("x", 1<<20))}
	rec := put(door, "team/app", "sha512:"+strings.Repeat("ab", 64), "tag=v1", v1.MediaTypeImageManifest, body)
	if rec.Code != http.StatusUnauthorized || asked != "team/app" {
		t.Fatalf("answered %d after asking about %q, want 401 for team/app", rec.Code, asked)
	}
	if body.n != 0 {
		t.Errorf("%d bytes of the manifest were read before authorization", body.n)
	}
}

// TestDoorRefusesBadRequests: what the door itself refuses, before the
// gate — each a 4xx OCI error, and no record.
func TestDoorRefusesBadRequests(t *testing.T) {
	h := newHarness(t)
	door := NewDoor(h.pipeline, nil)
	body := `{"schemaVersion":2}`
	many := url.Values{}
	for i := range maxTagParams + 1 {
		many.Add("tag", fmt.Sprintf("t%d", i))
	}
	cases := []struct {
		name, ref, query string
		status           int
		code             string
	}{
		{"digest of other content", digest.FromString("other").String(), "", 400, "DIGEST_INVALID"},
		{"malformed digest", "sha256:abc", "", 400, "DIGEST_INVALID"},
		{"invalid tag", ".hidden", "", 400, "TAG_INVALID"},
		{"tag too long", strings.Repeat("t", 129), "", 400, "TAG_INVALID"},
		{"tag parameter on a push by tag", "v1", "tag=v2", 400, "TAG_INVALID"},
		{"invalid tag parameter", digest.FromString(body).String(), "tag=%2Fbad", 400, "TAG_INVALID"},
		{"too many tag parameters", digest.FromString(body).String(), many.Encode(), 400, "TAG_INVALID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := put(door, "team/app", c.ref, c.query, v1.MediaTypeImageManifest, strings.NewReader(body))
			if rec.Code != c.status || ociErrorCode(t, rec.Body.Bytes()) != c.code {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, c.status, c.code)
			}
		})
	}
	page, err := h.store.List(context.Background(), metadata.Query{Repository: "team/app"})
	if err != nil || len(page.Records) != 0 {
		t.Fatalf("the door's refusals left records: %d, %v", len(page.Records), err)
	}
}

// TestDoorOverLimitIsTooLarge: a body that goes past the limit while it is
// read (no Content-Length) is a 413 MANIFEST_TOO_LARGE.
func TestDoorOverLimitIsTooLarge(t *testing.T) {
	h := newHarness(t)
	door := NewDoor(h.pipeline, nil)
	req := httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/v1", io.NopCloser(strings.NewReader(strings.Repeat("x", 2048))))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, req.Body, 1024)
	door.PutManifest(rec, req, "team/app", "v1")
	if rec.Code != http.StatusRequestEntityTooLarge || ociErrorCode(t, rec.Body.Bytes()) != "MANIFEST_TOO_LARGE" {
		t.Fatalf("answered %d %s, want 413 MANIFEST_TOO_LARGE", rec.Code, rec.Body)
	}
}

// TestDoorSHA512WithTags: a push by sha512 digest with ?tag= parameters is
// one push (one record), stored under the canonical digest with the
// client's digest linked to it; the tags and the answer name the client's
// digest.
func TestDoorSHA512WithTags(t *testing.T) {
	h := newHarness(t)
	door := NewDoor(h.pipeline, nil)
	payload := h.image("team/app", "sha512")
	alias := digest.SHA512.FromBytes(payload)
	rec := put(door, "team/app", alias.String(), "tag=a&tag=b", v1.MediaTypeImageManifest, strings.NewReader(string(payload)))
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Docker-Content-Digest"); got != alias.String() {
		t.Errorf("Docker-Content-Digest %s, want %s", got, alias)
	}
	if got := rec.Header().Values("OCI-Tag"); strings.Join(got, ",") != "a,b" {
		t.Errorf("OCI-Tag %v, want a, b", got)
	}
	for _, tag := range []string{"a", "b"} {
		if got := h.tag("team/app", tag); got != alias {
			t.Errorf("tag %s names %s, want %s", tag, got, alias)
		}
	}
	canonical, ok, err := h.pipeline.opts.Aliases.Manifest(context.Background(), "team/app", alias)
	if err != nil || !ok || canonical != digest.FromBytes(payload) {
		t.Fatalf("alias link: %s %v %v", canonical, ok, err)
	}
	page, err := h.store.List(context.Background(), metadata.Query{Repository: "team/app"})
	if err != nil || len(page.Records) != 1 || strings.Join(page.Records[0].Tags, ",") != "a,b" {
		t.Fatalf("records: %+v, %v; want one push with tags a, b", page.Records, err)
	}
}
