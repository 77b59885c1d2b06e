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

	"github.com/imagegate/imagegate/internal/imageconfig"
	"github.com/imagegate/imagegate/metadata/bolt"
)

// fakeConfigs stands for push.Pipeline.ImageConfig (its reading is
// tested in internal/imageconfig and registry's TestImageViewMemoryBounded).
type fakeConfigs struct {
	cfg *imageconfig.Summary
	err error
}

func (f fakeConfigs) ImageConfig(context.Context, string, digest.Digest) (*imageconfig.Summary, error) {
	return f.cfg, f.err
}

// TestImageConfigEndpoint: GET …/config answers labels and the run
// settings under pull, with where the whole config is and what was cut;
// OCI errors pass through.
func TestImageConfigEndpoint(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	blob := digest.FromString("config")
	cfg := &imageconfig.Summary{Blob: blob, OS: "linux", Architecture: "arm64", Cmd: []string{"/app"},
		Labels: map[string]string{"org.opencontainers.image.source": "https://git.example/app"}, LabelCount: 3, Truncated: []string{"labels"}}
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
	if status != 200 || !strings.Contains(body, "https://git.example/app") || !strings.Contains(body, `"arm64"`) ||
		!strings.Contains(body, `"config_digest": "`+blob.String()) || !strings.Contains(body, `"label_count": 3`) ||
		!strings.Contains(body, `"truncated": [`+"\n    \"labels\"") {
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
