package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
)

// One chunk in sampleEvery is compressed: here the first chunk of a file
// of zeros and the first of a random file, each sampleEvery chunks long.
func TestIndexSamplesCompressibility(t *testing.T) {
	random := make([]byte, sampleEvery*sampleChunk)
	rnd := rand.New(rand.NewPCG(7, 8))
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"zeros", make([]byte, sampleEvery*sampleChunk)}, {"random", random}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Size: int64(len(f.data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	x, err := Index(context.Background(), &buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if x.SampleBytes != 2*sampleChunk {
		t.Errorf("sampled %d bytes, want %d", x.SampleBytes, 2*sampleChunk)
	}
	// Random bytes do not compress (zstd stores them raw, plus a few
	// bytes of framing); zeros take a few bytes.
	if x.SampleZstdBytes < sampleChunk || x.SampleZstdBytes > sampleChunk+200 {
		t.Errorf("sample compressed to %d bytes", x.SampleZstdBytes)
	}
}

func TestRecompressHint(t *testing.T) {
	idx := func(sampled, packed int64) *LayerIndex {
		x := &LayerIndex{Entries: []Entry{{Path: "big", Size: 40_000_000}}, Bytes: 40_000_000, Files: 1}
		x.SampleBytes, x.SampleZstdBytes = sampled, packed
		return x
	}
	r, err := Analyze([]Layer{
		{CompressedSize: 20_000_000, Index: idx(1000, 250)}, // 40 MB → 10 MB
		{CompressedSize: 5_000_000, Index: idx(0, 0)},       // no sample: left out
	}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Layers[0].ZstdEstimate != 10_000_000 || r.Layers[1].ZstdEstimate != 0 {
		t.Fatalf("estimates %d %d", r.Layers[0].ZstdEstimate, r.Layers[1].ZstdEstimate)
	}
	var got []Hint
	for _, h := range r.Hints {
		if h.Action == "recompress" {
			got = append(got, h)
		}
	}
	want := Hint{Action: "recompress", Layers: []int{0}, Bytes: 10_000_000,
		Text: "recompress with zstd: about 10.0 MB instead of 20.0 MB (estimated from a sample of file contents): saves about 10.0 MB"}
	if len(got) != 1 || got[0].Text != want.Text || got[0].Bytes != want.Bytes || len(got[0].Layers) != 1 {
		t.Errorf("recompress hints %+v, want %+v", got, want)
	}
	// Already as small as zstd would make it: no hint.
	r, _ = Analyze([]Layer{{CompressedSize: 10_500_000, Index: idx(1000, 250)}}, Limits{})
	for _, h := range r.Hints {
		if h.Action == "recompress" {
			t.Errorf("hint for a saving under 10 %%: %+v", h)
		}
	}
}

// The estimate is close to what zstd makes of the whole tar: a layer of
// text files, a random (incompressible) file and a file of zeros.
func TestZstdEstimateIsClose(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "return", "err", "func", "layer", "image", "{", "}", "\n"}
	text := func(n int) []byte {
		var b bytes.Buffer
		for b.Len() < n {
			b.WriteString(words[rnd.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.Bytes()[:n]
	}
	random := make([]byte, 3<<20)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		add("src/file"+string(rune('a'+i%26))+string(rune('a'+i/26)), text(1000+rnd.IntN(40000)))
	}
	add("bin/blob", random)
	add("var/zeros", make([]byte, 2<<20))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	whole := len(zEncoder.EncodeAll(buf.Bytes(), nil))
	x, err := Index(context.Background(), bytes.NewReader(buf.Bytes()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	est := x.zstdEstimate()
	ratio := float64(est) / float64(whole)
	t.Logf("tar %d B, zstd of the whole tar %d B, estimate %d B (%.2f×, sample %d B)", buf.Len(), whole, est, ratio, x.SampleBytes)
	if ratio < 0.8 || ratio > 1.3 {
		t.Errorf("estimate %d B is %.2f× the real %d B", est, ratio, whole)
	}
}

// TestSampleThinsOnLargeFiles: past the first 16 MiB the spacing
// doubles, so a 128 MiB file costs about a 1/82 of its bytes in zstd
// instead of a 1/32, and each sample counts for the chunks it stands
// for: 32 MiB of zeros then 96 MiB of random bytes estimate to about
// 96 MiB, although the zeros hold most of the samples (unweighted, they
// would make it about 66 MiB).
func TestSampleThinsOnLargeFiles(t *testing.T) {
	const size = 128 << 20
	rnd := rand.NewChaCha8([32]byte{3})
	file := io.MultiReader(io.LimitReader(zeroReader{}, 32<<20), io.LimitReader(rnd, size-32<<20))
	var s sampler
	if err := s.read(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	if s.chunks != size/sampleChunk {
		t.Fatalf("%d chunks, want %d", s.chunks, size/sampleChunk)
	}
	if s.taken > size/80 || s.taken < size/90 {
		t.Errorf("compressed %d bytes of %d (1/%d), want about 1/82", s.taken, size, size/max(s.taken, 1))
	}
	// Weighted, the sample stands for the whole file.
	if s.raw != size/sampleEvery {
		t.Errorf("weighted sample %d bytes, want %d", s.raw, size/sampleEvery)
	}
	est := float64(size) * float64(s.packed) / float64(s.raw)
	if want := float64(96 << 20); est < 0.9*want || est > 1.1*want {
		t.Errorf("estimate %.0f bytes, want about %.0f", est, want)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
