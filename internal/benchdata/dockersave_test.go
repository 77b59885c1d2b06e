package benchdata

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestDockerSaveIsAnImage reads the tarball back as `docker load` would:
// manifest.json names the config and the layers, the config's diff_ids
// are the layers' sha256, the tag is there; the size is about the one
// asked for; compressible layers compress about 3:1 (at least 2.5:1) and
// random ones not at all; the same arguments give the same bytes.
func TestDockerSaveIsAnImage(t *testing.T) {
	const size = 24 << 20
	dir := t.TempDir()
	for _, random := range []bool{false, true} {
		path := filepath.Join(dir, "image.tar")
		if err := WriteDockerSave(path, size, random); err != nil {
			t.Fatal(err)
		}
		files, sums, ratio := readTarball(t, path)
		var manifest []struct {
			Config   string
			RepoTags []string
			Layers   []string
		}
		if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
			t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
		}
		m := manifest[0]
		var config struct {
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(files[m.Config], &config); err != nil {
			t.Fatalf("config %s: %v", m.Config, err)
		}
		if len(m.Layers) < 2 || len(m.Layers) != len(config.RootFS.DiffIDs) || len(m.RepoTags) != 1 || m.RepoTags[0] != Tag {
			t.Fatalf("random=%v: manifest %+v, diff_ids %v", random, m, config.RootFS.DiffIDs)
		}
		for i, l := range m.Layers {
			if sums[l] != config.RootFS.DiffIDs[i] {
				t.Errorf("random=%v: layer %s is %s, the config says %s", random, l, sums[l], config.RootFS.DiffIDs[i])
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > size+64<<10 || fi.Size() < size*3/4 {
			t.Errorf("random=%v: %d bytes, asked for %d", random, fi.Size(), size)
		}
		if !random && ratio < 2.5 || random && ratio > 1.01 {
			t.Errorf("random=%v: gzip ratio of the layers %.2f:1", random, ratio)
		}
		again := filepath.Join(dir, "again.tar")
		if err := WriteDockerSave(again, size, random); err != nil {
			t.Fatal(err)
		}
		if fileSum(t, path) != fileSum(t, again) {
			t.Errorf("random=%v: two tarballs of the same arguments differ", random)
		}
	}
}

// readTarball returns the small files of a docker save tarball, the sha256
// of its layer.tar entries, and the gzip (level 1) ratio of those layers.
func readTarball(t *testing.T, path string) (files map[string][]byte, sums map[string]string, ratio float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files, sums = map[string][]byte{}, map[string]string{}
	var plain, packed counter
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(h.Name) != "layer.tar" {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
			continue
		}
		zw, _ := gzip.NewWriterLevel(&packed, gzip.BestSpeed)
		sum := sha256.New()
		if _, err := io.Copy(io.MultiWriter(sum, zw, &plain), tr); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		sums[h.Name] = "sha256:" + hex.EncodeToString(sum.Sum(nil))
	}
	return files, sums, float64(plain) / float64(packed)
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }
