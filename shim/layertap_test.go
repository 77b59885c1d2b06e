package shim

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/testutil/compressed"
)

// recordingTap keeps what each layer sink was given.
type recordingTap struct{ sinks []*recordingSink }

func (t *recordingTap) Begin(context.Context) LayerSink {
	s := &recordingSink{}
	t.sinks = append(t.sinks, s)
	return s
}

type recordingSink struct {
	buf      bytes.Buffer
	blob     digest.Digest
	err      error
	finished int
}

func (s *recordingSink) Write(p []byte) (int, error) { return s.buf.Write(p) }
func (s *recordingSink) Finish(blob digest.Digest, err error) {
	s.blob, s.err = blob, err
	s.finished++
}

// TestLayerTapSeesTheStoringPass: whatever form a layer arrives in (a
// plain tar kept as it is, gzip, zstd), the tap gets its
// uncompressed bytes in the pass that stores it, and the digest it was
// stored under; other files are not tapped.
func TestLayerTapSeesTheStoringPass(t *testing.T) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	body := strings.Repeat("file content ", 1000)
	_ = tw.WriteHeader(&tar.Header{Name: "etc/app.conf", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	plain := layer.Bytes()
	for _, tc := range []struct {
		name        string
		file        []byte
		compression Compression
	}{
		{"plain tar, kept", plain, None},
		{"gzip", compressed.Gzip(t, plain), None},
		{"zstd", compressed.Zstd(t, plain), None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testWriter(t, Limits{})
			w.compression = tc.compression
			tap := &recordingTap{}
			w.tap = tap
			st, err := w.store(t.Context(), bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(tap.sinks) != 1 {
				t.Fatalf("%d sinks", len(tap.sinks))
			}
			s := tap.sinks[0]
			if !bytes.Equal(s.buf.Bytes(), plain) || s.blob != st.blob || s.err != nil || s.finished != 1 {
				t.Fatalf("sink got %d bytes (want %d), blob %s (stored %s), err %v, finished %d", s.buf.Len(), len(plain), s.blob, st.blob, s.err, s.finished)
			}
		})
	}
	w := testWriter(t, Limits{})
	tap := &recordingTap{}
	w.tap = tap
	if _, err := w.store(t.Context(), strings.NewReader(`{"config": "not a layer"}`)); err != nil || len(tap.sinks) != 0 {
		t.Fatalf("a JSON file: %v, %d sinks", err, len(tap.sinks))
	}
}
