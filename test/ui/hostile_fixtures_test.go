package ui

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/forged"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/scan/scantest"
)

// What the hostile-image test (hostile_test.go) pushes: images, layers
// and manifests whose every field an attacker wrote.

// markup is what a pusher writes into every field a page shows: it
// closes an attribute and opens an element with a handler.
const markup = `"><svg id="injected" onload="alert(1)">'`

// hostileLabels is how many labels the hostile image has; each value is
// hostileLabelBytes apostrophes (one byte in the config's JSON, five in
// HTML as &#39;), so that the config is just under the gate's 8 MiB.
const (
	hostileLabels     = 1900
	hostileLabelBytes = 4096
)

// hostileImage is an image whose config, history and file paths are
// written by an attacker: markup in every text field, a URL label with a
// javascript: scheme, 1,900 labels of 4 KiB and a 200 KB history entry.
func hostileImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.Append(scantest.CleanImage(t),
		mutate.Addendum{Layer: tarLayer(t, "big/"+markup, 300_000), History: v1.History{CreatedBy: "RUN " + markup}},
		mutate.Addendum{Layer: tarLayer(t, "big/.wh."+markup, 0), History: v1.History{CreatedBy: "RUN " + strings.Repeat("'", 200_000)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Author = markup
	cfg.Config.User = markup
	cfg.Config.WorkingDir = "/" + markup
	cfg.Config.Entrypoint = []string{"javascript:alert(1)", markup}
	cfg.Config.Cmd = []string{markup}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.source": "javascript:alert(document.cookie)",
		"org.opencontainers.image.url":    "data:text/html,<script>alert(1)</script>",
		"a" + markup:                      markup,
	}
	for i := range hostileLabels - len(cfg.Config.Labels) {
		cfg.Config.Labels[fmt.Sprintf("z%05d", i)] = strings.Repeat("'", hostileLabelBytes)
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return mutate.Annotations(img, map[string]string{"org.opencontainers.image.description": markup}).(v1.Image)
}

// hostilePlatform is an image whose config names an operating system of
// 7 MiB of apostrophes (before the gate's bound: the push record's
// platform, 36.7 MB of the image page).
func hostilePlatform(t *testing.T) v1.Image {
	t.Helper()
	img := scantest.CleanImage(t)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux" + strings.Repeat("'", 7<<20)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// tarLayer is a layer holding one file of size bytes at path.
func tarLayer(t *testing.T, path string, size int) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bytes.Repeat([]byte("x"), size)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// forgedManifest is the clean fixture's manifest, as JSON, after edit.
func forgedManifest(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	return forged.Edit(t, scantest.CleanImage(t), edit)
}

// pushErr writes img to ref on srv as alice: nil when it was stored.
func pushErr(t *testing.T, srv *liveserver.Server, ref string, img v1.Image) error {
	t.Helper()
	return remote.Write(reference(t, srv, ref), img, asAlice)
}

// pushIndexErr writes index to ref on srv as alice: nil when it was stored.
func pushIndexErr(t *testing.T, srv *liveserver.Server, ref string, index v1.ImageIndex) error {
	t.Helper()
	return remote.WriteIndex(reference(t, srv, ref), index, asAlice)
}

// asAlice pushes with alice's password.
var asAlice = remote.WithAuth(&authn.Basic{Username: "alice", Password: users["alice"]})

// reference is ref (repository:tag) on srv.
func reference(t *testing.T, srv *liveserver.Server, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(srv.Addr+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
