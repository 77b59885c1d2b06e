package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
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

// TestManifestPutAuthorizedBeforeBodyIsRead: a caller AllowPush refuses
// gets its answer without the manifest being read or reaching
// distribution.
func TestManifestPutAuthorizedBeforeBodyIsRead(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("distribution got %s %s", r.Method, r.URL.Path)
	})
	var asked string
	h := NewHandler(next, Options{Driver: inmemory.New(), AllowPush: func(w http.ResponseWriter, r *http.Request, repo string) bool {
		asked = repo
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}})
	body := &readCounter{r: strings.NewReader(strings.Repeat("x", 1<<20))}
	req := httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/sha512:"+strings.Repeat("ab", 64)+"?tag=v1", body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || asked != "team/app" {
		t.Fatalf("answered %d after asking about %q, want 401 for team/app", rec.Code, asked)
	}
	if body.n != 0 {
		t.Errorf("%d bytes of the manifest were read before authorization", body.n)
	}
}

// TestManifestPutOverLimitIsTooLarge: a body that goes past the limit
// while it is read (no Content-Length) is a 413 MANIFEST_TOO_LARGE, as
// one that announces its size is (registry/limits.go).
func TestManifestPutOverLimitIsTooLarge(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("distribution got %s %s", r.Method, r.URL.Path)
	})
	h := NewHandler(next, Options{Driver: inmemory.New()})
	req := httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/v1", io.NopCloser(strings.NewReader(strings.Repeat("x", 2048))))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, req.Body, 1024)
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("answered %d %s, want 413", rec.Code, rec.Body)
	}
	if code := ociErrorCode(t, rec.Body.Bytes()); code != "MANIFEST_TOO_LARGE" {
		t.Errorf("code %s, want MANIFEST_TOO_LARGE", code)
	}
}

// TestBadRepositoryNamesGoToDistribution: a path whose repository is no
// valid name is never looked up in storage (the driver refuses such
// paths, which was a 500); distribution answers it.
func TestBadRepositoryNamesGoToDistribution(t *testing.T) {
	var forwarded int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded++
		w.WriteHeader(http.StatusNotFound)
	})
	h := NewHandler(next, Options{Driver: inmemory.New()})
	sha512 := "sha512:" + strings.Repeat("ab", 64)
	for _, target := range []string{
		"/v2/a%20b/manifests/" + sha512,
		"/v2/a%25b/manifests/" + sha512,
		"/v2/UPPER/manifests/" + sha512,
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
			before := forwarded
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
			if rec.Code != http.StatusNotFound || forwarded != before+1 {
				t.Errorf("%s %s: %d (forwarded: %v), want distribution's 404", method, target, rec.Code, forwarded != before)
			}
		}
	}
}

// TestTooManyTagParameters: more than maxTagParams ?tag= parameters are
// refused with TAG_INVALID before anything reaches distribution (each
// would be a push through the gate).
func TestTooManyTagParameters(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("distribution got %s %s", r.Method, r.URL.Path)
	})
	h := NewHandler(next, Options{Driver: inmemory.New()})
	body := `{"schemaVersion":2}`
	q := url.Values{}
	for i := range maxTagParams + 1 {
		q.Add("tag", fmt.Sprintf("t%d", i))
	}
	req := httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/"+digest.FromString(body).String()+"?"+q.Encode(), strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || ociErrorCode(t, rec.Body.Bytes()) != "TAG_INVALID" {
		t.Fatalf("%d tag parameters: %d %s, want 400 TAG_INVALID", maxTagParams+1, rec.Code, rec.Body)
	}
}

// ctxDriver refuses work for a cancelled context, as a network storage
// driver (S3) does.
type ctxDriver struct{ storagedriver.StorageDriver }

func (d ctxDriver) PutContent(ctx context.Context, path string, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.StorageDriver.PutContent(ctx, path, b)
}

func (d ctxDriver) Delete(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.StorageDriver.Delete(ctx, path)
}

// TestBookkeepingSurvivesClientLeaving: once distribution has stored or
// deleted a manifest, the digest links that go with it are written or
// removed even if the client has gone (its request context cancelled) —
// a link left behind after a delete could never be removed again.
func TestBookkeepingSurvivesClientLeaving(t *testing.T) {
	manifest := []byte(`{"schemaVersion":2}`)
	alias := digest.SHA512.FromBytes(manifest)
	canonical := digest.FromBytes(manifest)
	var cancel context.CancelFunc
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the client leaves while distribution works
		switch r.Method {
		case http.MethodPut:
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	drv := ctxDriver{inmemory.New()}
	h := NewHandler(next, Options{Driver: drv})
	links := NewAliases(drv)
	serve := func(method string, body io.Reader) int {
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		req := httptest.NewRequest(method, "/v2/team/app/manifests/"+alias.String(), body).WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	if code := serve(http.MethodPut, bytes.NewReader(manifest)); code != http.StatusCreated {
		t.Fatalf("PUT answered %d", code)
	}
	if got, ok, err := links.Manifest(context.Background(), "team/app", alias); err != nil || !ok || got != canonical {
		t.Fatalf("after the PUT the sha512 link is %v %v %v, want %s", got, ok, err, canonical)
	}
	if code := serve(http.MethodDelete, nil); code != http.StatusAccepted {
		t.Fatalf("DELETE answered %d", code)
	}
	if got, ok, err := links.Manifest(context.Background(), "team/app", alias); err != nil || ok {
		t.Fatalf("after the DELETE the sha512 link is still %v %v %v", got, ok, err)
	}
}
