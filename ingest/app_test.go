package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	// imagegate's filesystem driver, as the server uses it.
	_ "github.com/imagegate/imagegate/storagedriver/fs"
)

// testRegistry is distribution's App over imagegate's filesystem driver in
// a temporary directory, with the Ingester installed unless the test runs
// distribution's own path (in nil): each behaviour is checked on both.
type testRegistry struct {
	base string
	root string
	in   *Ingester
}

// modes are the two ways of storing a body the tests compare.
var modes = []string{"distribution", "ingest"}

func newTestRegistry(t *testing.T, mode string, opts ...Option) *testRegistry {
	t.Helper()
	root := t.TempDir()
	params := configuration.Parameters{"rootdirectory": root}
	cfg := &configuration.Configuration{Storage: configuration.Storage{
		"imagegate-filesystem": params,
		"maintenance":          configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}}
	cfg.HTTP.Secret = "test-secret"
	reg := &testRegistry{root: root}
	if mode == "ingest" {
		driver, err := factory.Create(context.Background(), "imagegate-filesystem", params)
		if err != nil {
			t.Fatal(err)
		}
		reg.in = New(driver, slog.New(slog.DiscardHandler), opts...)
		cfg.Middleware = map[string][]configuration.Middleware{"repository": {reg.in.Middleware()}}
	}
	srv := httptest.NewServer(handlers.NewApp(context.Background(), cfg))
	t.Cleanup(srv.Close)
	reg.base = srv.URL
	return reg
}

// bodies is how many bodies the parallel copy stored (-1 without it).
func (r *testRegistry) bodies() int64 {
	if r.in == nil {
		return -1
	}
	return r.in.bodies.Load()
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r *testRegistry) do(t *testing.T, method, target string, header map[string]string, body io.Reader) response {
	t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = r.base + target
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := body.(*strings.Reader); ok {
		req.ContentLength = s.Size()
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(data)}
}

// start opens an upload in repo and returns its Location.
func (r *testRegistry) start(t *testing.T, repo string) string {
	t.Helper()
	resp := r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if resp.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", resp.status, resp.body)
	}
	return resp.header.Get("Location")
}

// patch sends data to the upload at loc, with a Content-Range from start
// when start ≥ 0.
func (r *testRegistry) patch(t *testing.T, loc string, start int64, data []byte) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/octet-stream"}
	if start >= 0 {
		h["Content-Range"] = rangeOf(start, len(data))
	}
	return r.do(t, http.MethodPatch, loc, h, strings.NewReader(string(data)))
}

func rangeOf(start int64, n int) string { return fmt.Sprintf("%d-%d", start, start+int64(n)-1) }

// put completes the upload at loc with dgst, sending data as the last chunk.
func (r *testRegistry) put(t *testing.T, loc, dgst string, data []byte) response {
	t.Helper()
	return r.do(t, http.MethodPut, withQuery(t, loc, "digest", dgst), nil, strings.NewReader(string(data)))
}

func withQuery(t *testing.T, loc, key, value string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blob returns the blob dgst of repo, failing unless it is served.
func (r *testRegistry) blob(t *testing.T, repo, dgst string) string {
	t.Helper()
	resp := r.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+dgst, nil, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET blob %s: %d %s", dgst, resp.status, resp.body)
	}
	return resp.body
}
