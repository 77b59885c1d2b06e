package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
)

// failingDriver's writers accept limit bytes, then fail (a full disk),
// while full is set.
type failingDriver struct {
	storagedriver.StorageDriver
	limit int64
	full  *atomic.Bool
}

func (d failingDriver) Writer(ctx context.Context, path string, append bool) (storagedriver.FileWriter, error) {
	fw, err := d.StorageDriver.Writer(ctx, path, append)
	if err != nil || !d.full.Load() {
		return fw, err
	}
	return &failingFileWriter{FileWriter: fw, left: d.limit}, nil
}

type failingFileWriter struct {
	storagedriver.FileWriter
	left int64
}

func (w *failingFileWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		n, _ := w.FileWriter.Write(p[:w.left])
		w.left = 0
		return n, errors.New("no space left on device")
	}
	w.left -= int64(len(p))
	return w.FileWriter.Write(p)
}

// TestWriteFailureLeavesTheUploadUsable: when the disk fails mid-body, the
// PATCH fails, the upload's status reports the bytes that reached the
// file, no hash state vouches for them, and the upload completes from
// there under the whole blob's digest (distribution reads it back at the
// commit) — a wrong blob is never accepted.
func TestWriteFailureLeavesTheUploadUsable(t *testing.T) {
	root := t.TempDir()
	params := configuration.Parameters{"rootdirectory": root}
	cfg := &configuration.Configuration{Storage: configuration.Storage{
		"imagegate-filesystem": params,
		"maintenance":          configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}}
	cfg.HTTP.Secret = "test-secret"
	driver, err := factory.Create(context.Background(), "imagegate-filesystem", params)
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(chunkSize + 4096)
	full := &atomic.Bool{}
	in := New(failingDriver{StorageDriver: driver, limit: limit, full: full}, slog.New(slog.DiscardHandler))
	cfg.Middleware = map[string][]configuration.Middleware{"repository": {in.Middleware()}}
	srv := httptest.NewServer(handlers.NewApp(context.Background(), cfg))
	t.Cleanup(srv.Close)
	reg := &testRegistry{base: srv.URL, root: root, in: in}

	data := randomBytes(9, 3*chunkSize)
	wrong := append(make([]byte, 0, len(data)), data...)
	wrong[len(wrong)-1] ^= 1
	for _, c := range []struct {
		digest string
		status int
	}{{digestOf(wrong), http.StatusBadRequest}, {digestOf(data), http.StatusCreated}} {
		full.Store(true)
		loc := reg.start(t, "test/full")
		if resp := reg.patch(t, loc, 0, data); resp.status < 500 {
			t.Fatalf("PATCH onto a failing disk answered %d", resp.status)
		}
		got := reg.do(t, http.MethodGet, loc, nil, nil)
		if got.header.Get("Range") != fmt.Sprintf("0-%d", limit-1) {
			t.Fatalf("upload at %q after the failure, want 0-%d", got.header.Get("Range"), limit-1)
		}
		// The disk has room again; no hash state is stored at this size,
		// so distribution stores the rest and reads the upload back.
		full.Store(false)
		if resp := reg.put(t, got.header.Get("Location"), c.digest, data[limit:]); resp.status != c.status {
			t.Fatalf("PUT under %s after the failure: %d %s, want %d", c.digest, resp.status, resp.body, c.status)
		}
	}
	if reg.blob(t, "test/full", digestOf(data)) != string(data) {
		t.Fatal("the blob served is not the one pushed")
	}
}
