package analysis

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
)

// Open implements diffid.Tap: the layer's uncompressed bytes go through a
// pipe into layers.Index while diffid hashes them, and the index is kept
// (Indexes) when both the read and the index succeeded.
func (a *Analyzer) Open(ctx context.Context, blob digest.Digest) diffid.Sink {
	return a.newSink(ctx, blob)
}

var _ diffid.Tap = (*Analyzer)(nil)

// sink indexes one layer from the bytes written to it.
type sink struct {
	a    *Analyzer
	ctx  context.Context
	blob digest.Digest
	pw   *io.PipeWriter
	done chan struct{}
	idx  *layers.LayerIndex
	err  error // the index's
	werr error // the first failed write: later bytes are dropped
	// again: the layer is read for the analysis alone (Reads).
	again bool
}

func (a *Analyzer) newSink(ctx context.Context, blob digest.Digest) *sink {
	pr, pw := io.Pipe()
	s := &sink{a: a, ctx: ctx, blob: blob, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.idx, s.err = layers.Index(ctx, pr, a.limits)
		if s.err != nil {
			pr.CloseWithError(s.err) // the writer stops; diffid carries on hashing
			return
		}
		_, _ = io.Copy(io.Discard, pr) // what follows the tar's end
	}()
	return s
}

// Write implements diffid.Sink. It never fails: once the index stopped
// reading (a limit, not a tar), the bytes are dropped, so that the read
// feeding it (a diff_id, a stored layer) goes on undisturbed.
func (s *sink) Write(p []byte) (int, error) {
	if s.werr == nil {
		_, s.werr = s.pw.Write(p)
	}
	return len(p), nil
}

// Pending indexes one layer whose blob digest is known only once its
// bytes are stored (the tarball door compresses layers as it stores
// them). It is a shim.LayerSink.
type Pending struct{ s *sink }

// Begin starts indexing a layer from the bytes written to the Pending.
func (a *Analyzer) Begin(ctx context.Context) *Pending {
	return &Pending{s: a.newSink(ctx, "")}
}

// Write takes the layer's next uncompressed bytes; it never fails.
func (p *Pending) Write(b []byte) (int, error) { return p.s.Write(b) }

// Finish ends the layer, stored as blob: err nil when all of it was
// written. Like diffid.Sink's Close, it keeps the index or remembers why
// it could not be built.
func (p *Pending) Finish(blob digest.Digest, err error) {
	p.s.blob = blob
	if err == nil && blob.Validate() != nil {
		err = errors.New("analysis: a layer finished without a valid blob digest")
	}
	p.s.Close(err)
}

// Close implements diffid.Sink: it waits for the index, keeps it, or
// remembers why the layer cannot be indexed (a limit, not a tar) when
// the read itself succeeded.
func (s *sink) Close(readErr error) {
	if readErr != nil {
		s.pw.CloseWithError(readErr)
	} else {
		s.pw.Close()
	}
	<-s.done
	switch {
	case readErr != nil:
		s.err = readErr // the read's failure is the cause of the index's
	case s.err == nil:
		if s.again {
			s.a.again.Add(1)
		} else {
			s.a.shared.Add(1)
		}
		// A failure to keep it costs a read next time, not this push.
		_ = s.a.indexes.Put(context.WithoutCancel(s.ctx), s.blob, s.idx)
		s.a.recent.put(s.blob, s.idx, nil)
	case !errors.Is(s.err, context.Canceled) && !errors.Is(s.err, context.DeadlineExceeded):
		s.err = &contentError{s.err}
		s.a.recent.put(s.blob, nil, s.err)
	}
}

// contentError is a failure of layers.Index over a layer read to its
// end: the layer's content (a limit, not a tar), not the registry.
type contentError struct{ err error }

func (e *contentError) Error() string { return e.err.Error() }
func (e *contentError) Unwrap() error { return e.err }
