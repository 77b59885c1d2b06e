package upload

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
)

// TestHostileArchives: every malformed or unsafe archive is refused with
// a 4xx OCI error naming the problem, and nothing of it stays visible.
func TestHostileArchives(t *testing.T) {
	s := start(t, func(c *config.Config) {
		c.Upload.MaxEntries = 50
		c.Upload.MaxBytes = 8 << 20
		c.Upload.MaxDecompressedBytes = 64 << 20
		c.Upload.MaxRatio = 200
	})
	img := randomImage(t, 8<<10, 2)
	good := dockerSave(t, false, saveImage{img: img, tags: []string{"team/x:1"}})
	cfgName, _ := img.ConfigName()
	rawCfg, _ := img.RawConfigFile()
	layers := diffIDs(t, img)
	layerTar := tarOf(t, entry{name: "etc/hostname", data: []byte("x\n")})
	manifestJSON := func(config string, layers ...string) []byte {
		b, _ := json.Marshal([]map[string]any{{"Config": config, "RepoTags": []string{"team/x:1"}, "Layers": layers}})
		return b
	}
	ociBlob := digest.FromString("content")

	cases := []struct {
		name    string
		body    []byte
		status  int
		message string
	}{
		{"not a tar", []byte(strings.Repeat("hello world, this is not an archive\n", 40)), 400, "not a tar archive"},
		{"empty body", nil, 400, "the upload is empty"},
		{"gzip of text", gz(t, []byte(strings.Repeat("plain text ", 100))), 400, "not a tar archive"},
		{"zstd of text", zst(t, []byte(strings.Repeat("plain text ", 100))), 400, "not a tar archive"},
		{"truncated tar", good[:len(good)/2], 400, "truncated"},
		{"truncated gzip", gz(t, good)[:len(gz(t, good))/2], 400, "truncated"},
		{"corrupt gzip", corrupt(gz(t, good)), 400, "malformed tar header|corrupt"},
		{"gzip checksum mismatch", badCRC(gz(t, good)), 400, "corrupt gzip stream"},
		{"absolute path", tarOf(t, entry{name: "/etc/passwd", data: []byte("root")}), 400, "absolute path"},
		{"dot-dot path", tarOf(t, entry{name: "a/../../evil", data: []byte("x")}), 400, `".."`},
		{"symlink to absolute", tarOf(t, entry{name: "manifest.json", typ: tar.TypeSymlink, link: "/etc/passwd"}), 400, "points outside the archive"},
		{"symlink escaping", tarOf(t, entry{name: "a/layer.tar", typ: tar.TypeSymlink, link: "../../etc/shadow"}), 400, "points outside the archive"},
		{"hardlink escaping", tarOf(t, entry{name: "layer.tar", typ: tar.TypeLink, link: "../x"}), 400, "points outside the archive"},
		{"character device", tarOf(t, entry{name: "dev/null", typ: tar.TypeChar}), 400, "device file"},
		{"fifo", tarOf(t, entry{name: "pipe", typ: tar.TypeFifo}), 400, "device file or FIFO"},
		{"duplicate names", tarOf(t, entry{name: "manifest.json", data: []byte("[]")}, entry{name: "manifest.json", data: []byte("[]")}), 400, "duplicate entry"},
		{"neither manifest.json nor index.json", tarOf(t, entry{name: "hello.txt", data: []byte("hi")}), 400, "neither manifest.json"},
		{"manifest.json not JSON", tarOf(t, entry{name: "manifest.json", data: []byte("{{{")}), 400, "not a docker save manifest"},
		{"manifest.json names a missing config", tarOf(t, entry{name: "manifest.json", data: manifestJSON("nope.json")}), 400, `"nope.json", which is missing`},
		{"manifest.json names a missing layer", tarOf(t,
			entry{name: cfgName.Hex + ".json", data: rawCfg},
			entry{name: "manifest.json", data: manifestJSON(cfgName.Hex+".json", layers[0].Hex+"/layer.tar", "missing/layer.tar")}), 400, `"` + layers[0].Hex + `/layer.tar", which is missing`},
		{"layer count differs from diff_ids", tarOf(t,
			entry{name: cfgName.Hex + ".json", data: rawCfg},
			entry{name: "l/layer.tar", data: layerTar},
			entry{name: "manifest.json", data: manifestJSON(cfgName.Hex+".json", "l/layer.tar")}), 400, "lists 1 layers but its config 2 diff_ids"},
		{"diff_id mismatch", tarOf(t,
			entry{name: cfgName.Hex + ".json", data: rawCfg},
			entry{name: "a/layer.tar", data: layerTar},
			entry{name: "b/layer.tar", data: layerTar},
			entry{name: "manifest.json", data: manifestJSON(cfgName.Hex+".json", "a/layer.tar", "b/layer.tar")}), 400, "diff_id"},
		{"OCI blob digest mismatch", tarOf(t,
			entry{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
			entry{name: "blobs/sha256/" + ociBlob.Encoded(), data: []byte("other content")}), 400, "digest mismatch"},
		{"OCI index names a missing manifest", tarOf(t,
			entry{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
			entry{name: "index.json", data: []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + ociBlob.String() + `","size":7}]}`)}),
			400, "missing from the archive"},
		{"index.json without oci-layout", tarOf(t, entry{name: "index.json", data: []byte(`{"schemaVersion":2,"manifests":[]}`)}), 400, "oci-layout"},
		{"no target", dockerSave(t, false, saveImage{img: img}), 400, "names no repository"},
		{"too many entries", tarOf(t, manyEntries(60)...), 413, "upload.maxentries"},
		{"gzip bomb", bomb(t, gz, 16<<20), 413, "upload.maxratio"},
		{"zstd bomb", bomb(t, zst, 60<<20), 413, "upload.maxratio"},
		{"decompresses past the limit", zst(t, tarOf(t, entry{name: "big", data: sparse(70 << 20)})), 413, "upload.maxdecompressedbytes"},
		{"over maxbytes", randomBytes(t, 9<<20), 413, "upload.maxbytes"},
		// Issue 12, finding 11: each of these cost minutes of CPU, GB of
		// disk or unbounded memory, or answered 500.
		{"PAX sparse entry of 1 TiB", paxSparse("blobs/big", 1<<40), 400, "sparse file"},
		{"old GNU sparse entry of 1 TiB", gnuSparse("big", 1<<40), 400, "sparse file"},
		{"2 MiB PAX header", hugePAX(2 << 20), 400, "extended header"},
		{"gzip bomb layer in a plain tar", tarOf(t, entry{name: "l/layer.tar", data: gz(t, make([]byte, 70<<20))}), 413, "upload.maxratio"},
		{"zstd bomb layer in a plain tar", tarOf(t, entry{name: "l/layer.tar", data: zst(t, make([]byte, 70<<20))}), 413, "upload.maxratio"},
		{"entry declares more than maxdecompressedbytes", append(rawHeader("big", 100<<20, tar.TypeReg, false), make([]byte, 8<<10)...), 413, "declares"},
		{"entry name over 4096 bytes", tarOf(t, entry{name: strings.Repeat("a/", 2100) + "x", data: []byte("x")}), 400, "at most 4096"},
		{"link target over 4096 bytes", tarOf(t, entry{name: "l", typ: tar.TypeSymlink, link: strings.Repeat("b/", 2100)}), 400, "at most 4096"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.upload(t, "/upload-image", "", bytes.NewReader(c.body), nil)
			if r.Status != c.status || len(r.Errors) == 0 || !containsAny(r.Errors[0].Message, strings.Split(c.message, "|")) {
				t.Fatalf("got %d %s, want %d with %q", r.Status, r.Body, c.status, c.message)
			}
			if r.UploadID == "" {
				t.Fatal("no Imagegate-Upload-Id header")
			}
			s.assertNothingVisible(t)
		})
	}
	// The same limit while streaming: no Content-Length to refuse early.
	t.Run("over maxbytes while streaming", func(t *testing.T) {
		r := s.upload(t, "/upload-image", "", io.MultiReader(bytes.NewReader(good), bytes.NewReader(randomBytes(t, 9<<20))), nil)
		if r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.Body), "upload.maxbytes") {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		s.assertNothingVisible(t)
	})
}

// assertNothingVisible checks that no repository, tag, staging area or
// blob is left (on a server that never accepted an upload).
func (s *testServer) assertNothingVisible(t testing.TB) {
	t.Helper()
	resp, err := http.Get(s.url("/v2/_catalog"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cat struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&cat); err != nil {
		t.Fatal(err)
	}
	if len(cat.Repositories) != 0 {
		t.Fatalf("repositories visible after a failed upload: %v", cat.Repositories)
	}
	staging := filepath.Join(s.dir, "registry", "docker", "registry", "v2", "repositories", "imagegate-uploads")
	if ents, err := os.ReadDir(staging); err == nil && len(ents) > 0 {
		t.Fatalf("staging repositories left: %d", len(ents))
	}
	if blobs := s.blobs(t); len(blobs) != 0 {
		t.Fatalf("blobs left after a failed upload: %v", blobs)
	}
}

// blobs lists the digests (encoded) of the blobs in the server's store.
func (s *testServer) blobs(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	root := filepath.Join(s.dir, "registry", "docker", "registry", "v2", "blobs")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "data" {
			out[filepath.Base(filepath.Dir(p))] = true
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// corrupt flips bytes in the middle of a gzip stream.
func corrupt(b []byte) []byte {
	c := append([]byte(nil), b...)
	for i := len(c) / 2; i < len(c)/2+64 && i < len(c)-8; i++ {
		c[i] ^= 0xff
	}
	return c
}

// manyEntries is n small files.
func manyEntries(n int) []entry {
	out := make([]entry, n)
	for i := range out {
		out[i] = entry{name: "f" + string(rune('a'+i%26)) + "/" + strings.Repeat("x", i+1), data: []byte("x")}
	}
	return out
}

// bomb is a compressed tar of size zero bytes.
func bomb(t testing.TB, compress func(testing.TB, []byte) []byte, size int) []byte {
	t.Helper()
	return compress(t, tarOf(t, entry{name: "zeros", data: make([]byte, size)}))
}

// sparse is n bytes, one in 32 random: it compresses about 30-fold.
func sparse(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := 0; i < n; i += 32 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// badCRC breaks the CRC-32 in a gzip stream's trailer.
func badCRC(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)-8] ^= 0xff
	return c
}

// randomBytes is n pseudo-random (incompressible) bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
