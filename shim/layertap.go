package shim

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
)

// LayerTap is given the uncompressed bytes of every tar layer the shim
// stores, in the pass that stores it, so that the layer analysis never
// reads it again (analysis.Analyzer fits, through the registry's adapter).
type LayerTap interface {
	// Begin is called before a layer's bytes are stored; nil means the
	// tap does not want them.
	Begin(ctx context.Context) LayerSink
}

// LayerSink takes one layer's uncompressed bytes. Write never fails the
// store (a sink that cannot keep up with the bytes stops taking them).
type LayerSink interface {
	io.Writer
	// Finish is called once after the last Write: blob is the digest the
	// layer was stored under, err nil when the whole layer went through.
	Finish(blob digest.Digest, err error)
}

// beginLayer returns the sink for a layer of format (tar, gzip, zstd), or
// nil without a tap or for other content.
func (w *blobWriter) beginLayer(ctx context.Context, format string) LayerSink {
	if w.tap == nil || (format != formatTar && format != formatGzip && format != formatZstd) {
		return nil
	}
	return w.tap.Begin(ctx)
}

// sinkWriter is s as an io.Writer for a MultiWriter: io.Discard when nil.
func sinkWriter(s LayerSink) io.Writer {
	if s == nil {
		return io.Discard
	}
	return s
}
