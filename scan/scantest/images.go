package scantest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// created is every fixture timestamp, so that images are byte-for-byte
// reproducible: the same call always yields the same digests.
var created = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

// VulnerableImage returns a one-layer OCI image of Alpine 3.22.1 with
// VulnerablePackages installed. Scanned against the fixture DB it has
// exactly VulnerableFindings.
func VulnerableImage(t testing.TB) v1.Image {
	t.Helper()
	return AlpineImage(t, VulnerablePackages)
}

// CleanImage returns a one-layer OCI image of Alpine 3.22.1 with
// CleanPackages installed: no fixture advisory matches it.
func CleanImage(t testing.TB) v1.Image {
	t.Helper()
	return AlpineImage(t, CleanPackages)
}

// AlpineImage returns a one-layer OCI image of Alpine 3.22.1 whose apk
// database lists pkgs.
func AlpineImage(t testing.TB, pkgs []Package) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img = WithLayer(t, img, AlpineFiles(pkgs))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("scantest: config: %v", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", "amd64", v1.Time{Time: created}
	cfg.Config.Cmd = []string{"/bin/sh"}
	cfg.Config.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatalf("scantest: set config: %v", err)
	}
	return img
}

// WithLayer returns base with one more layer holding files (path →
// content). The result shares every layer blob of base, so a layer cache
// warmed by scanning base needs only the new layer. The layer media type
// follows base's manifest flavour (OCI or Docker).
func WithLayer(t testing.TB, base v1.Image, files map[string]string) v1.Image {
	t.Helper()
	mt, err := base.MediaType()
	if err != nil {
		t.Fatalf("scantest: base media type: %v", err)
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	raw := tarFiles(files)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(layerType))
	if err != nil {
		t.Fatalf("scantest: layer: %v", err)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     l,
		MediaType: layerType,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "scantest: add " + strings.Join(sortedKeys(files), " ")},
	})
	if err != nil {
		t.Fatalf("scantest: append layer: %v", err)
	}
	return img
}

// AsDocker returns img as a Docker schema2 image: same layers (with Docker
// media types) and config, other manifest and config media types.
func AsDocker(t testing.TB, img v1.Image) v1.Image {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("scantest: layers: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("scantest: config: %v", err)
	}
	out := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	out = mutate.ConfigMediaType(out, types.DockerConfigJSON)
	for _, l := range layers {
		if out, err = mutate.Append(out, mutate.Addendum{Layer: l, MediaType: types.DockerLayer}); err != nil {
			t.Fatalf("scantest: append layer: %v", err)
		}
	}
	if out, err = mutate.ConfigFile(out, cfg); err != nil {
		t.Fatalf("scantest: set config: %v", err)
	}
	return out
}

// AlpineFiles returns the files that make an Alpine 3.22.1 root filesystem
// as far as a scanner is concerned, with pkgs in the apk database.
func AlpineFiles(pkgs []Package) map[string]string {
	return map[string]string{
		"etc/alpine-release": "3.22.1\n",
		"etc/os-release": "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.22.1\n" +
			"PRETTY_NAME=\"Alpine Linux v3.22\"\nHOME_URL=\"https://alpinelinux.org/\"\n",
		"etc/apk/repositories": "https://dl-cdn.alpinelinux.org/alpine/v3.22/main\n" +
			"https://dl-cdn.alpinelinux.org/alpine/v3.22/community\n",
		"lib/apk/db/installed": apkInstalled(pkgs),
	}
}

// apkInstalled renders an apk database with one stanza per package, each
// its own origin.
func apkInstalled(pkgs []Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "C:Q1%s=\nP:%s\nV:%s\nA:x86_64\nS:1000\nI:2000\nT:%s (scantest fixture)\n"+
			"U:https://example.invalid/%s\nL:MIT\no:%s\nm:scantest <scantest@example.invalid>\nt:1751328000\n\n",
			strings.Repeat("0", 27), p.Name, p.Version, p.Name, p.Name, p.Name)
	}
	return b.String()
}

// tarFiles returns an uncompressed, reproducible tar with files and their
// parent directories.
func tarFiles(files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for name := range files {
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range sortedKeys(dirs) {
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: created}))
	}
	for _, name := range sortedKeys(files) {
		c := files[name]
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(c)), ModTime: created}))
		_, err := tw.Write([]byte(c))
		must(err)
	}
	must(tw.Close())
	return buf.Bytes()
}

// must panics on errors that writing to a bytes.Buffer cannot produce.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
