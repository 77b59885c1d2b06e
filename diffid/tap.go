package diffid

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// Tap receives the uncompressed bytes of the layer blobs a Resolver
// decompresses, in the same read that computes their diff_id, so that
// another consumer (the layer analysis) never reads a blob again. diffid
// knows nothing of what it does with them.
type Tap interface {
	// Open is called before a blob is decompressed; nil means the tap
	// does not want this one.
	Open(ctx context.Context, blob digest.Digest) Sink
}

// Sink takes one layer's uncompressed bytes.
type Sink interface {
	// Write takes the next bytes. An error stops the bytes going to this
	// sink; the diff_id is computed regardless.
	io.Writer
	// Close is called exactly once after the last Write: err is nil when
	// the layer was read to its end, or why the read stopped (a limit,
	// a corrupt stream, the context). It returns when the sink is done
	// with the layer.
	Close(err error)
}

// PendingTap takes the uncompressed bytes of layers whose blob digest is
// known only once their bytes are stored: the tarball door's layers (it
// compresses them as it stores them) and uploads' bodies (Learn). The
// layer analysis fits (analysis.Analyzer's Begin, through the registry's
// adapter).
type PendingTap interface {
	// Begin is called before a layer's bytes are written; nil means the
	// tap does not want them.
	Begin(ctx context.Context) PendingSink
}

// PendingSink takes one layer's uncompressed bytes. Write never fails
// the store (a sink that cannot keep up with the bytes stops taking
// them).
type PendingSink interface {
	io.Writer
	// Finish is called once after the last Write: blob is the digest the
	// layer was stored under, err nil when the whole layer went through
	// (then blob is valid).
	Finish(blob digest.Digest, err error)
}

// SetTap makes r feed every blob it decompresses to t. Call it before r
// is used; a nil t (the default) feeds none.
func (r *Resolver) SetTap(t Tap) { r.tap = t }

// compute decompresses blob with open under r's limits and worker slots,
// feeding sink (if not nil) and closing it.
func (r *Resolver) compute(ctx context.Context, blob digest.Digest, alg digest.Algorithm, open Opener, sink Sink) (Layer, error) {
	l, err := r.computeSlot(ctx, blob, alg, open, sink)
	if sink != nil {
		sink.Close(err)
	}
	return l, err
}

func (r *Resolver) computeSlot(ctx context.Context, blob digest.Digest, alg digest.Algorithm, open Opener, sink Sink) (Layer, error) {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return Layer{}, fmt.Errorf("diffid: waiting to decompress layer %s: %w", blob, ctx.Err())
	}
	defer func() { <-r.slots }()
	rc, err := open(ctx, blob)
	if err != nil {
		return Layer{}, fmt.Errorf("diffid: opening layer %s: %w", blob, err)
	}
	defer rc.Close()
	var tee io.Writer
	if sink != nil {
		tee = sink
	}
	l, err := computeTo(ctx, alg, rc, r.limits, zstdMaxWindow, tee, blob)
	if err != nil {
		return Layer{}, fmt.Errorf("diffid: layer %s: %w", blob, err)
	}
	return l, nil
}

// Read decompresses blob once more, under the same limits and worker
// slots as DiffID, writing its uncompressed bytes to sink (which it
// closes): for a consumer of a layer whose diff_id is remembered but
// whose bytes it has not seen (blobs stored before it existed). The
// sha256 diff_id it computes on the way is remembered. Errors are DiffID's.
func (r *Resolver) Read(ctx context.Context, blob digest.Digest, open Opener, sink Sink) (Layer, error) {
	if err := blob.Validate(); err != nil {
		sink.Close(err)
		return Layer{}, fmt.Errorf("diffid: blob digest: %w", err)
	}
	l, err := r.compute(ctx, blob, digest.SHA256, open, sink)
	if err != nil {
		return Layer{}, err
	}
	_ = r.store.Put(context.WithoutCancel(ctx), blob, l.DiffID)
	return l, nil
}
