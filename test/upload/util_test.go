package upload

import (
	"bytes"
	"io"
	"mime/multipart"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// v1Tag keeps map literals of references to images short.
type v1Tag = v1.Image

// diffIDs lists an image's layer diff_ids.
func diffIDs(t testing.TB, img v1.Image) []v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

// multipartBody is a form with fields and then the archive as a file part.
func multipartBody(t testing.TB, fields map[string]string, archive []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", "image.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(archive); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// verifyZstd checks every layer of img (zstd-compressed) by digest and
// diff_id, which go-containerregistry's validate does not do for zstd.
func verifyZstd(t testing.TB, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	diffs := diffIDs(t, img)
	for i, l := range layers {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(raw).String(); got != d.String() {
			t.Fatalf("layer %d: content digest %s, manifest says %s", i, got, d)
		}
		dec, err := zstd.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(dec)
		dec.Close()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		if got := digest.FromBytes(plain).String(); got != diffs[i].String() {
			t.Fatalf("layer %d: diff_id %s, config says %s", i, got, diffs[i])
		}
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
