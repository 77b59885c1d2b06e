package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestPushPullDelete pushes a random multi-layer image with
// go-containerregistry, pulls it back byte for byte, and deletes it.
func TestPushPullDelete(t *testing.T) {
	s := startServer(t, nil)
	img, err := random.Image(64<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(s.host()+"/e2e/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}

	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	wantDigest, _ := img.Digest()
	gotDigest, err := pulled.Digest()
	if err != nil || gotDigest != wantDigest {
		t.Fatalf("pulled digest %v (%v), pushed %v", gotDigest, err, wantDigest)
	}
	assertSameLayers(t, img, pulled)

	byDigest := ref.Context().Digest(wantDigest.String())
	if err := remote.Delete(byDigest); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = remote.Head(byDigest)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("after delete, HEAD = %v; want 404", err)
	}
}

// assertSameLayers compares every layer's digest and its content's digest.
func assertSameLayers(t *testing.T, want, got v1.Image) {
	t.Helper()
	wl, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(wl) != len(gl) {
		t.Fatalf("%d layers pulled, %d pushed", len(gl), len(wl))
	}
	for i := range wl {
		wd, _ := wl[i].Digest()
		gd, err := gl[i].Digest()
		if err != nil || wd != gd {
			t.Fatalf("layer %d: digest %v (%v), want %v", i, gd, err, wd)
		}
		rc, err := gl[i].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != wd {
			t.Fatalf("layer %d: content hashes to %v (%v), want %v", i, h, err, wd)
		}
	}
}

// TestPushIndex pushes a multi-platform index and reads every child back.
func TestPushIndex(t *testing.T) {
	s := startServer(t, nil)
	idx, err := random.Index(16<<10, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(s.host()+"/e2e/multi:latest", name.Insecure)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	got, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("index digest %v, want %v", d, want)
	}
	m, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 3 {
		t.Fatalf("%d children, want 3", len(m.Manifests))
	}
	for _, desc := range m.Manifests {
		child, err := got.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := child.Layers(); err != nil {
			t.Fatalf("child %s: %v", desc.Digest, err)
		}
	}
}

// TestCatalogAndTagsPaginate: the catalog and tag lists answer, and page
// with n and a Link header (distribution applies their page limits only
// when it parses its own YAML, so imagegate sets them).
func TestCatalogAndTagsPaginate(t *testing.T) {
	s := startServer(t, nil)
	pushN(t, s, "cat/a", "v1", 2)
	pushN(t, s, "cat/b", "v1", 1)
	status, hdr, body := do(t, "GET", s.base+"/v2/_catalog?n=1", nil, nil)
	if status != 200 || string(body) != "{\"repositories\":[\"cat/a\"]}\n" || !strings.Contains(hdr.Get("Link"), `rel="next"`) {
		t.Fatalf("catalog page 1: %d %q %q", status, body, hdr.Get("Link"))
	}
	status, _, body = do(t, "GET", s.base+"/v2/_catalog", nil, nil)
	if status != 200 || string(body) != "{\"repositories\":[\"cat/a\",\"cat/b\"]}\n" {
		t.Fatalf("catalog: %d %q", status, body)
	}
	status, _, body = do(t, "GET", s.base+"/v2/cat/a/tags/list", nil, nil)
	if status != 200 || !strings.Contains(string(body), `"tags":["v1"]`) {
		t.Fatalf("tags: %d %s", status, body)
	}
}
