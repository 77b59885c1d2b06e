package oci

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

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

// TestBookkeepingSurvivesClientLeaving: once distribution has deleted a
// manifest, the digest link that went with it is removed even if the
// client has gone (its request context cancelled) — a link left behind
// after a delete could never be removed again. (The push pipeline writes
// links after storing with a context that survives the client too:
// push.TestClientGoneAfterPendingStillCommits.)
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

	if err := links.LinkManifest(context.Background(), "team/app", alias, canonical); err != nil {
		t.Fatal(err)
	}
	if code := serve(http.MethodDelete, nil); code != http.StatusAccepted {
		t.Fatalf("DELETE answered %d", code)
	}
	if got, ok, err := links.Manifest(context.Background(), "team/app", alias); err != nil || ok {
		t.Fatalf("after the DELETE the sha512 link is still %v %v %v", got, ok, err)
	}
}
