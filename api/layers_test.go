package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/metadata/bolt"
)

// fakeReporter answers with report or err, and remembers what it was asked.
type fakeReporter struct {
	report *layers.Report
	err    error
	repo   string
	d      digest.Digest
}

func (f *fakeReporter) LayerReport(_ context.Context, repo string, d digest.Digest) (*layers.Report, error) {
	f.repo, f.d = repo, d
	return f.report, f.err
}

// TestLayerReportEndpoint: GET …/layers asks the reporter for the named
// manifest under pull on the repository; its OCI errors pass through,
// anything else is a 503 without internals; no reporter is a 503.
func TestLayerReportEndpoint(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := digest.FromString("image")
	path := "/api/v1/repositories/team/app/manifests/" + d.String() + "/layers"
	get := func(a *API, pull string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Test-Pull", pull)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	f := &fakeReporter{report: &layers.Report{WastedBytes: 42, Efficiency: 0.5}}
	a := New(store, Options{Auth: testAuth{}, Layers: f}, slog.New(slog.DiscardHandler))
	status, body := get(a, "team/app")
	var got layersReport
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || got.Report.WastedBytes != 42 || got.Repository != "team/app" ||
		f.repo != "team/app" || f.d != d {
		t.Fatalf("%d %s (asked for %s@%s)", status, body, f.repo, f.d)
	}
	if status, body := get(a, "other/x"); status != 403 || !strings.Contains(body, "DENIED") {
		t.Fatalf("without pull: %d %s", status, body)
	}
	f.err = errcode.ErrorCodeManifestUnknown
	if status, body := get(a, "team/app"); status != 404 || !strings.Contains(body, "MANIFEST_UNKNOWN") {
		t.Fatalf("unknown manifest: %d %s", status, body)
	}
	f.err = errors.New("s3: bucket internal-bucket-7 unreachable")
	if status, body := get(a, "team/app"); status != 503 || strings.Contains(body, "internal-bucket") {
		t.Fatalf("storage failure: %d %s", status, body)
	}
	off := New(store, Options{Auth: testAuth{}}, slog.New(slog.DiscardHandler))
	if status, body := get(off, "team/app"); status != 503 || !strings.Contains(body, "layer analysis is off") {
		t.Fatalf("no reporter: %d %s", status, body)
	}
}
