package optimize

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/imagegate/imagegate/layers"
)

// ctxEvery is how many tar entries are read between two looks at ctx.
const ctxEvery = 256

// limits returns lim with every zero or negative field it uses set to
// layers.DefaultLimits'.
func limits(lim layers.Limits) layers.Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&lim.MaxEntries, layers.DefaultLimits.MaxEntries)
	def(&lim.MaxPathBytes, layers.DefaultLimits.MaxPathBytes)
	def(&lim.MaxDepth, layers.DefaultLimits.MaxDepth)
	def(&lim.MaxIndexBytes, layers.DefaultLimits.MaxIndexBytes)
	def(&lim.MaxImageEntries, layers.DefaultLimits.MaxImageEntries)
	return lim
}

// budget bounds what readEntries keeps across an image's layers.
type budget struct {
	lim   layers.Limits
	total int // entries kept for every layer read so far
}

// readEntries reads the uncompressed tar r of layer (0-based) to its end
// and returns its entries in tar order, one per header. It skips file
// contents (tar.Reader discards them) and keeps the paths alone. It
// stops with a *layers.LimitError past b's limits (entries of the layer
// or of the image, bytes of one path or of all, depth), with a
// *HostileError for a name it refuses, and with an error wrapping
// archive/tar's for a stream that is not a tar.
func readEntries(ctx context.Context, layer int, r io.Reader, b *budget) ([]entry, error) {
	var out []entry
	pathBytes := 0
	tr := tar.NewReader(r)
	for n := 1; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("optimize: reading layer %d's tar after %d entries: %w", layer+1, n-1, err)
		}
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("optimize: reading layer %d: %w", layer+1, err)
			}
		}
		if n > b.lim.MaxEntries {
			return nil, &layers.LimitError{Limit: "entries", Max: b.lim.MaxEntries, Layer: layer}
		}
		if b.total++; b.total > b.lim.MaxImageEntries {
			return nil, &layers.LimitError{Limit: "image entries", Max: b.lim.MaxImageEntries, Layer: -1}
		}
		if len(hdr.Name) > b.lim.MaxPathBytes || len(hdr.Linkname) > b.lim.MaxPathBytes {
			return nil, &layers.LimitError{Limit: "path bytes", Max: b.lim.MaxPathBytes, Layer: layer}
		}
		e, err := classify(layer, hdr)
		if err != nil {
			return nil, err
		}
		if strings.Count(e.path, "/")+1 > b.lim.MaxDepth {
			return nil, &layers.LimitError{Limit: "depth", Max: b.lim.MaxDepth, Layer: layer}
		}
		if pathBytes += len(e.path) + len(e.link); pathBytes > b.lim.MaxIndexBytes {
			return nil, &layers.LimitError{Limit: "index bytes", Max: b.lim.MaxIndexBytes, Layer: layer}
		}
		out = append(out, e)
	}
}
