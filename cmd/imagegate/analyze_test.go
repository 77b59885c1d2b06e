package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// pushWasteful pushes to server a two-layer image: an apt cache of
// 50,000 bytes and a 1,000-byte binary, then the cache deleted. By
// Dive's definitions: 50,000 of 51,000 bytes wasted, efficiency 1/51.
func pushWasteful(t *testing.T, server, repo string) string {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{7})
	tarOf := func(entries ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			h.Mode, h.Typeflag = 0o644, tar.TypeReg
			_ = tw.WriteHeader(h)
			b := make([]byte, h.Size)
			_, _ = rng.Read(b)
			_, _ = tw.Write(b)
		}
		_ = tw.Close()
		return buf.Bytes()
	}
	img := empty.Image
	for _, l := range []struct {
		tar []byte
		cmd string
	}{
		{tarOf(&tar.Header{Name: "var/cache/apt/x.deb", Size: 50_000}, &tar.Header{Name: "app/bin", Size: 1000}), "/bin/sh -c apt-get install -y x"},
		{tarOf(&tar.Header{Name: "var/cache/apt/.wh.x.deb"}), "/bin/sh -c rm /var/cache/apt/x.deb"},
	} {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l.tar)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: l.cmd}}); err != nil {
			t.Fatal(err)
		}
	}
	ref, _ := name.ParseReference(strings.TrimPrefix(server, "http://")+"/"+repo+":v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// TestAnalyze: `imagegate analyze` prints the server's layer report as a
// table (figures in decimal units, layers numbered from 1) or, with
// --json, the API's answer.
func TestAnalyze(t *testing.T) {
	server := startRegistry(t, nil)
	d := pushWasteful(t, server, "team/app")
	stdout, stderr, status := cli(t, "", nil, "analyze", "team/app@"+d, "--server", server)
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	for _, want := range []string{
		"team/app@" + d + "\n",
		"image 1 kB in 2 layers (51 kB counting every layer's files); efficiency 2.0 %, wasted 50 kB (98.0 %)\n",
		"apt-get install -y x\n",
		"rm /var/cache/apt/x.deb\n",
		"package-cache  /var/cache/apt  50 kB  1      apt-get install -y x",
		"/var/cache/apt/x.deb  2       50 kB",
		"HINTS\n  - delete /var/cache/apt in the same RUN as \"apt-get install -y x\" (layer 1)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, status = cli(t, "", nil, "analyze", "team/app@"+d, "--server", server, "--json")
	var got struct {
		Report struct {
			WastedBytes int64   `json:"wasted_bytes"`
			Efficiency  float64 `json:"efficiency"`
			Layers      []struct {
				CreatedBy string `json:"created_by"`
			} `json:"layers"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); status != 0 || err != nil || got.Report.WastedBytes != 50_000 ||
		got.Report.Efficiency != 1000.0/51_000 || len(got.Report.Layers) != 2 {
		t.Fatalf("--json: status %d, %v, %+v", status, err, got)
	}
	_, stderr, status = cli(t, "", nil, "analyze", "team/app@sha256:"+strings.Repeat("0", 64), "--server", server)
	if status != 1 || !strings.Contains(stderr, "HTTP 404 Not Found: MANIFEST_UNKNOWN") {
		t.Fatalf("unknown manifest: status %d, %s", status, stderr)
	}
}
