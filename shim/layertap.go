package shim

import (
	"context"
	"io"

	"github.com/imagegate/imagegate/diffid"
)

// LayerTap is given the uncompressed bytes of every tar layer the shim
// stores, in the pass that stores it, so that the layer analysis never
// reads it again (analysis.Analyzer fits, through the registry's adapter).
// Its Begin is called before a layer's bytes are stored (nil: the tap does
// not want them); the sink's Write never fails the store, and its Finish
// gets the digest the layer was stored under. It is diffid's PendingTap:
// the upload tap (ingest, diffid.Learner) feeds the same consumer.
type LayerTap = diffid.PendingTap

// LayerSink takes one layer's uncompressed bytes (diffid.PendingSink).
type LayerSink = diffid.PendingSink

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
