package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// indexOf builds the index of ents as Index would, without writing their
// contents into a tar (a 200,000-entry image would be gigabytes).
func indexOf(tb testing.TB, ents []ent) *LayerIndex {
	x := &LayerIndex{}
	for _, e := range ents {
		if err := x.add(&tar.Header{Name: e.name, Typeflag: e.typ, Size: int64(e.size), Linkname: e.link}, DefaultLimits); err != nil {
			tb.Fatal(err)
		}
	}
	x.settle()
	return x
}

// benchImage is a 20-layer image of 200,000 entries: layers share a
// vocabulary of directories, and each rewrites up to 500 files of the
// layer below and deletes up to 10.
func benchImage(tb testing.TB) []Layer {
	rnd := rand.New(rand.NewPCG(3, 4))
	var layers []Layer
	var prev []ent
	for range 20 {
		ents := syntheticEntries(rnd, "", 10000)
		if prev != nil {
			for k := 0; k < 500; k++ { // rewrites
				if e := prev[rnd.IntN(len(prev))]; e.typ == tar.TypeReg {
					ents[k] = file(e.name, e.size+1)
				}
			}
			for k := 0; k < 10; k++ { // deletions
				if e := prev[rnd.IntN(len(prev))]; e.typ == tar.TypeReg {
					ents[len(ents)-1-k] = whiteout(e.name)
				}
			}
		}
		layers = append(layers, Layer{Index: indexOf(tb, ents), CreatedBy: "RUN step"})
		prev = ents
	}
	return layers
}

func BenchmarkAnalyze(b *testing.B) {
	layers := benchImage(b)
	var entries int
	for _, l := range layers {
		entries += len(l.Index.Entries)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var r *Report
	for b.Loop() {
		var err error
		if r, err = Analyze(layers, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(r.Efficiency, "efficiency")
	runtime.KeepAlive(r)
}

// BenchmarkIndex reads a 10,000-entry layer tar of small files.
func BenchmarkIndex(b *testing.B) {
	ents := syntheticEntries(rand.New(rand.NewPCG(5, 6)), "", 10000)
	for i := range ents {
		if ents[i].typ == tar.TypeReg {
			ents[i].size %= 512
		}
	}
	tarBytes := layerTar(b, ents...)
	b.SetBytes(int64(len(tarBytes)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Index(context.Background(), struct{ io.Reader }{bytes.NewReader(tarBytes)}, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexLargeFiles reads a 128 MiB layer of 16 files of text
// (words of a small vocabulary: zstd makes about a third of it), on a
// stream that does not seek, as a teed blob read does not: the cost of
// reading the contents and compressing one chunk in 32.
func BenchmarkIndexLargeFiles(b *testing.B) {
	rnd := rand.New(rand.NewPCG(9, 10))
	words := strings.Fields("the layer of an image holds files and directories whose bytes a registry stores once " +
		"func return if err nil package import struct int64 string byte make append len range for")
	var text bytes.Buffer
	for text.Len() < 8<<20 {
		text.WriteString(words[rnd.IntN(len(words))])
		text.WriteByte(" \n"[rnd.IntN(2)])
	}
	content := text.Bytes()[:8<<20]
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range 16 {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/blob%d", i), Typeflag: tar.TypeReg, Size: int64(len(content)), Mode: 0o644}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	var x *LayerIndex
	for b.Loop() {
		var err error
		if x, err = Index(context.Background(), struct{ io.Reader }{bytes.NewReader(buf.Bytes())}, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(x.SampleZstdBytes)/float64(x.SampleBytes), "zstd-ratio")
}

// TestAnalyzeMemoryPerPath measures what the merge keeps alive at its
// peak (the merged tree and Dive's table, once every layer is merged)
// per distinct path, and holds it under 400 bytes.
func TestAnalyzeMemoryPerPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-entry image")
	}
	layers := benchImage(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := &merger{
		lim: DefaultLimits, layers: layers, tree: newTree(DefaultLimits.MaxImageEntries),
		eff: make(map[string]effStat), rep: &Report{Layers: make([]LayerReport, len(layers))},
		overwrite: make(map[shadowKey]shadowStat), removal: make(map[removalKey]int64),
	}
	for i, l := range layers {
		if err := m.merge(i, l); err != nil {
			t.Fatal(err)
		}
	}
	m.nodes = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	paths := max(len(m.eff), m.tree.live)
	perPath := float64(after.HeapAlloc-before.HeapAlloc) / float64(paths)
	t.Logf("%d distinct paths (%d in the final tree): %.0f bytes kept per path", len(m.eff), m.tree.live, perPath)
	if perPath > 400 {
		t.Errorf("%.0f bytes per path", perPath)
	}
	runtime.KeepAlive(m)
}
