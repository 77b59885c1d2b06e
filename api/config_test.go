package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata/bolt"
)

type fakeConfigs struct {
	cfg *v1.Image
	err error
}

func (f fakeConfigs) ImageConfig(context.Context, string, digest.Digest) (*v1.Image, error) {
	return f.cfg, f.err
}

// TestImageConfigEndpoint: GET …/config answers labels and the run
// settings under pull, never the environment; OCI errors pass through.
func TestImageConfigEndpoint(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := &v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Config: v1.ImageConfig{
		Labels: map[string]string{"org.opencontainers.image.source": "https://git.example/app"},
		Env:    []string{"API_TOKEN=hunter2"}, Cmd: []string{"/app"}}}
	path := "/api/v1/repositories/team/app/manifests/" + digest.FromString("m").String() + "/config"
	get := func(a *API, pull string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Test-Pull", pull)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	a := New(store, Options{Auth: testAuth{}, Configs: fakeConfigs{cfg: cfg}}, slog.New(slog.DiscardHandler))
	status, body := get(a, "team/app")
	if status != 200 || !strings.Contains(body, "https://git.example/app") || !strings.Contains(body, `"arm64"`) || strings.Contains(body, "hunter2") {
		t.Fatalf("%d %s", status, body)
	}
	if status, body := get(a, "other/app"); status != 403 || strings.Contains(body, "git.example") {
		t.Fatalf("without pull: %d %s", status, body)
	}
	a = New(store, Options{Auth: testAuth{}, Configs: fakeConfigs{err: errcode.ErrorCodeManifestUnknown}}, slog.New(slog.DiscardHandler))
	if status, body := get(a, "team/app"); status != 404 || !strings.Contains(body, "MANIFEST_UNKNOWN") {
		t.Fatalf("unknown manifest: %d %s", status, body)
	}
}
