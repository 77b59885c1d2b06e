package ingest

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
)

// Tap is given the bytes of every upload whose bytes arrive in one body
// (a monolithic PUT, or one PATCH then an empty PUT: what crane, docker
// and most clients send), as the body is copied, so that what it learns
// from them — a layer's diff_id and index (diffid.Learner) — is ready
// when the upload commits and the manifest reads no layer again.
//
// It never slows the copy beyond a bound nor fails it: a sink that falls
// tapLag chunks behind the hasher and the writer, or whose Write fails,
// gets no more bytes and is discarded (the manifest then reads the layer,
// as without a tap). Nothing is committed to a sink unless distribution
// verified the upload's digest, and that digest is the one the copy
// computed over exactly the bytes the sink was given.
type Tap interface {
	// Begin is called before the body that starts a new upload is
	// copied; nil means the tap does not want it.
	Begin(ctx context.Context) TapSink
}

// TapSink takes the bytes of one upload's body. Write, End and then
// Commit or Discard are called from one goroutine at a time, in that
// order; exactly one of Commit and Discard is called, Discard possibly
// without End.
type TapSink interface {
	// Write takes the body's next bytes. An error means the sink wants
	// no more: the body is copied on without it, and it is discarded.
	io.Writer
	// End is called after the last Write when the whole body went
	// through; it returns once the sink is done with the bytes, with an
	// error when it learnt nothing it could commit.
	End() error
	// Commit tells an ended sink that the upload was committed as blob,
	// a digest distribution verified against the bytes written to it.
	// An error (the sink failed to remember) costs a re-read, no more.
	Commit(ctx context.Context, blob digest.Digest) error
	// Discard tells the sink its bytes will not be committed as written.
	Discard()
}

// WithTap makes an Ingester feed each upload sent in one body to t (nil:
// none).
func WithTap(t Tap) Option { return func(in *Ingester) { in.taps.tap = t } }

// Option adjusts an Ingester.
type Option func(*Ingester)
