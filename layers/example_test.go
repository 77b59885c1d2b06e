package layers_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"

	"github.com/imagegate/imagegate/layers"
)

// tarOf writes files (name → size; a size of -1 is a directory) into a
// layer tar, in the order given.
func tarOf(names []string, sizes []int) *bytes.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, name := range names {
		if sizes[i] < 0 {
			_ = tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755})
			continue
		}
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(sizes[i])})
		_, _ = tw.Write(make([]byte, sizes[i]))
	}
	_ = tw.Close()
	return bytes.NewReader(buf.Bytes())
}

// An apt cache left in a layer, a file written and deleted in the next.
func ExampleAnalyze() {
	ctx := context.Background()
	l0, _ := layers.Index(ctx, tarOf(
		[]string{"var/cache/apt", "var/cache/apt/pkgcache.bin", "usr/bin/curl", "build.tar"},
		[]int{-1, 40_000_000, 300_000, 2_000_000}), layers.Limits{})
	l1, _ := layers.Index(ctx, tarOf([]string{".wh.build.tar"}, []int{0}), layers.Limits{})
	r, err := layers.Analyze([]layers.Layer{
		{CreatedBy: "/bin/sh -c apt-get update && apt-get install -y curl", Index: l0},
		{CreatedBy: "/bin/sh -c rm /build.tar", Index: l1},
	}, layers.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("efficiency %.4f, wasted %d B (%.1f %%), image %d B\n", r.Efficiency, r.WastedBytes, r.WastedPercent, r.ImageBytes)
	for _, h := range r.Hints {
		fmt.Println(h.Text)
	}
	// Output:
	// efficiency 0.9527, wasted 2000000 B (4.7 %), image 40300000 B
	// delete /var/cache/apt in the same RUN as "apt-get update && apt-get install -y curl" (layer 1): saves 40.0 MB
	// delete /build.tar in the same RUN as "apt-get update && apt-get install -y curl" (layer 1), not in layer 2: saves 2.0 MB
}
