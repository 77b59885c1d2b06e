package trivytest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types and annotation of a trivy-db OCI artifact, as published at
// ghcr.io/aquasecurity/trivy-db:2.
const (
	dbLayerMediaType  = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
	dbConfigMediaType = "application/vnd.aquasec.trivy.config.v1+json"
	titleAnnotation   = "org.opencontainers.image.title"
)

// Registry is an in-memory OCI registry on a loopback httptest server,
// standing in for ghcr.io or an air-gapped mirror. It counts blob
// downloads. It is closed when the test ends.
type Registry struct {
	// Host is "127.0.0.1:port"; go-containerregistry and Trivy talk plain
	// HTTP to loopback hosts.
	Host     string
	blobGets atomic.Int64
}

// NewRegistry starts a Registry.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			r.blobGets.Add(1)
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// BlobGets returns how many blobs were downloaded so far.
func (r *Registry) BlobGets() int { return int(r.blobGets.Load()) }

// PublishDB pushes the DB in dbDir (trivy.db and metadata.json, as written
// by WriteDB) as a trivy-db artifact to repo ("aquasecurity/trivy-db:2") and
// returns its full reference ("127.0.0.1:port/aquasecurity/trivy-db:2").
// Publishing again to the same tag replaces the DB, as upstream does.
func (r *Registry) PublishDB(t testing.TB, repo, dbDir string) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repo)
	if err != nil {
		t.Fatalf("trivytest: reference: %v", err)
	}
	layer := static.NewLayer(dbArchive(t, dbDir), dbLayerMediaType)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, dbConfigMediaType)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer, MediaType: dbLayerMediaType,
		Annotations: map[string]string{titleAnnotation: "db.tar.gz"},
	})
	if err != nil {
		t.Fatalf("trivytest: artifact: %v", err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("trivytest: push %s: %v", ref, err)
	}
	return ref.String()
}

// dbArchive returns trivy.db and metadata.json of dbDir as a tar.gz.
func dbArchive(t testing.TB, dbDir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []string{"trivy.db", "metadata.json"} {
		b, err := os.ReadFile(filepath.Join(dbDir, f))
		if err != nil {
			t.Fatalf("trivytest: %v", err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatalf("trivytest: %v", err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatalf("trivytest: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("trivytest: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("trivytest: %v", err)
	}
	return buf.Bytes()
}
