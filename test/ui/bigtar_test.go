package ui

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeBigTarball writes a `docker save` tarball of one image, tagged
// ref, whose one layer holds a file of size random bytes (incompressible,
// so that gzip on the server saves nothing), and returns its path. It
// streams: the layer is hashed as it is written, the config and
// manifest.json follow it (the upload reads an archive in any order), and
// no more than a buffer is ever in memory, whatever size.
func writeBigTarball(t *testing.T, size int64, ref string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "big.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outer := tar.NewWriter(f)
	mod := time.Unix(0, 0)
	// The layer tar: one USTAR header, the content padded to 512, two zero blocks.
	layerLen := 512 + (size+511)/512*512 + 1024
	if err := outer.WriteHeader(&tar.Header{Name: "layer/layer.tar", Mode: 0o644, Size: layerLen, ModTime: mod, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	counted := &countWriter{w: io.MultiWriter(outer, sum)}
	inner := tar.NewWriter(counted)
	if err := inner.WriteHeader(&tar.Header{Name: "random.bin", Mode: 0o644, Size: size, ModTime: mod, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.CopyN(inner, src, size); err != nil {
		t.Fatalf("writing %d random bytes: %v", size, err)
	}
	if err := inner.Close(); err != nil {
		t.Fatal(err)
	}
	if counted.n != layerLen {
		t.Fatalf("the layer is %d bytes, its header said %d", counted.n, layerLen)
	}
	diffID := "sha256:" + hexSum(sum)
	config, err := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}}})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer/layer.tar"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []struct {
		name string
		data []byte
	}{{"config.json", config}, {"manifest.json", manifest}} {
		if err := outer.WriteHeader(&tar.Header{Name: doc.name, Mode: 0o644, Size: int64(len(doc.data)), ModTime: mod, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := outer.Write(doc.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}

// countWriter counts what passes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// fileSize is the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// mib is n bytes in MiB, for logs.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
