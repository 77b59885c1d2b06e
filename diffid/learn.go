package diffid

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// errNotLayer stops a Learner whose bytes are no layer blob.
var errNotLayer = errors.New("diffid: not a layer blob (neither a tar nor a gzip or zstd stream)")

// errNothingToLearn stops a Learner of a plain tar without a tap: its
// diff_id is its digest, which DiffID finds without reading it.
var errNothingToLearn = errors.New("diffid: a plain tar with no tap: nothing to learn")

// errDiscarded ends the read of a Learner discarded before its end.
var errDiscarded = errors.New("diffid: the upload was discarded")

// TapZstdWindow is the most history a Learner's zstd decoder holds (the
// manifest's read allows 64 MiB): 8 MiB, the window of the zstd CLI's
// levels up to 19 and of klauspost/compress's encoder (containerd,
// BuildKit, go-containerregistry), so ordinary layers are learnt. The
// decoder then holds 9 MiB (the window and one block, low-memory mode)
// instead of up to 65 MiB: an upload tap is held by an upload the pusher
// paces, and several run at once (ingest's maxTaps).
const TapZstdWindow = 8 << 20

// ErrTapWindow is matched (errors.Is) by the error of a Learner that
// gave up because a zstd frame declares more than TapZstdWindow of
// history: nothing is learnt, and the manifest reads the layer with
// DiffID's limits (a layer is refused for its window only past those).
var ErrTapWindow = errors.New("diffid: the zstd window is larger than the upload tap allows; the manifest reads the layer")

// Learner learns the diff_id of one blob from its bytes as an upload
// stores them, before the digest they will be stored under is known: the
// same decompression, limits and errors as DiffID's read (computeTo) but
// a smaller zstd window (TapZstdWindow: a layer needing more is left to
// the manifest's read, ErrTapWindow), on a goroutine of its own, its
// uncompressed bytes fed to the PendingTap; a plain tar's bytes go to the
// tap as they are written, under MaxBytes.
// The format is sniffed from the first bytes (Sniff): anything but a tar,
// gzip or zstd stream stops it at once, and so does a plain tar when
// there is no tap (its diff_id is its digest: DiffID reads nothing for
// it). A Learner learns nothing for sure until Commit: what it read is
// remembered only under the digest the registry verified against the
// same bytes. It fits ingest.TapSink.
//
// Its methods are called by one goroutine at a time, in order: Write…,
// then End, then Commit or Discard (Discard alone, at any point,
// abandons it).
type Learner struct {
	r    *Resolver
	ctx  context.Context
	tap  PendingTap
	head []byte // the first bytes, until Sniff can tell
	// plain is a tar: its bytes go to sink as they come (no decompression,
	// no hash: its diff_id is its digest), n of them, under MaxBytes.
	plain bool
	n     int64
	pw    *io.PipeWriter // a compressed stream's, read by computeTo
	sink  PendingSink    // the tap's, for a layer
	done  chan struct{}
	// layer and err are the read's, set before done is closed.
	layer Layer
	err   error
	// stopped says why Write takes no more bytes.
	stopped error
	ended   bool
}

// Learn returns a Learner of one upload's bytes that feeds the layer it
// finds to tap (nil: none) and remembers its diff_id in r's Store.
func (r *Resolver) Learn(ctx context.Context, tap PendingTap) *Learner {
	return &Learner{r: r, ctx: ctx, tap: tap}
}

// Write takes the upload's next bytes. It blocks until they are
// decompressed (and fed to the tap); it fails once the Learner stopped —
// not a layer, a limit passed, a corrupt stream — with why.
func (l *Learner) Write(p []byte) (int, error) {
	if l.stopped != nil {
		return 0, l.stopped
	}
	if !l.started() {
		if len(l.head)+len(p) < SniffBytes {
			l.head = append(l.head, p...)
			return len(p), nil
		}
		prefix := append(l.head[:len(l.head):len(l.head)], p[:SniffBytes-len(l.head)]...)
		if err := l.start(prefix); err != nil {
			return 0, err
		}
		head := l.head
		l.head = nil
		if err := l.feed(head); err != nil {
			return 0, err
		}
	}
	if err := l.feed(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *Learner) started() bool { return l.plain || l.pw != nil }

// feed passes p on: to the sink for a tar, to the decompression for a
// compressed stream.
func (l *Learner) feed(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if l.plain {
		l.n += int64(len(p))
		if max := l.r.limits.MaxBytes; max > 0 && l.n > max {
			return l.stop(&LimitError{Limit: max, Uncompressed: l.n, Compressed: l.n})
		}
		if err := l.ctx.Err(); err != nil {
			return l.stop(fmt.Errorf("diffid: %w", err))
		}
		_, _ = l.sink.Write(p) // a PendingSink never fails the store
		return nil
	}
	if _, err := l.pw.Write(p); err != nil {
		return l.stop(err)
	}
	return nil
}

// start sniffs head and, for a layer, starts the read.
func (l *Learner) start(head []byte) error {
	c := Sniff(head)
	var sink PendingSink
	switch {
	case c == "":
		return l.stop(errNotLayer)
	case l.tap != nil:
		// Not cancelled with the request: an upload's sink ends in the
		// request that commits it, often the PUT after this PATCH. Its
		// input is closed by Commit or Discard, and all of it is read
		// by End, so it never outlives them.
		sink = l.tap.Begin(context.WithoutCancel(l.ctx))
	}
	l.sink = sink
	if c == None {
		if sink == nil {
			return l.stop(errNothingToLearn)
		}
		l.plain = true
		return nil
	}
	pr, pw := io.Pipe()
	l.pw, l.done = pw, make(chan struct{})
	var tee io.Writer
	if sink != nil {
		tee = sink
	}
	go func() {
		defer close(l.done)
		l.layer, l.err = computeTo(l.ctx, digest.SHA256, pr, l.r.limits, TapZstdWindow, tee, "")
		if windowExceeded(l.err) {
			// Not ErrCorrupt: the manifest's larger window may decode it.
			l.err = fmt.Errorf("%w (%d bytes: %v)", ErrTapWindow, TapZstdWindow, l.err)
		}
		// computeTo reads to EOF when it succeeds; when it stops early,
		// the writer's Write fails with why.
		pr.CloseWithError(l.err)
	}()
	return nil
}

// windowExceeded reports whether err is a zstd frame that asks for more
// history than the decoder allows.
func windowExceeded(err error) bool {
	var c *CorruptError
	return errors.As(err, &c) && (errors.Is(c.Err, zstd.ErrWindowSizeExceeded) || errors.Is(c.Err, zstd.ErrDecoderSizeExceeded))
}

// stop makes Write fail with err from now on; it returns err.
func (l *Learner) stop(err error) error {
	if l.stopped == nil {
		l.stopped = err
	}
	return l.stopped
}

// End is called when the upload's body ended with every byte written: it
// waits for the read to finish and returns nil when the diff_id (and the
// tap's bytes) were learnt, else why not (Discard follows).
func (l *Learner) End() error {
	if l.stopped != nil {
		return l.stopped
	}
	if !l.started() {
		if err := l.start(l.head); err != nil {
			return err
		}
		if err := l.feed(l.head); err != nil {
			return err
		}
	}
	l.ended = true
	if l.plain {
		return nil
	}
	_ = l.pw.Close()
	<-l.done
	if l.err != nil {
		return l.stop(l.err)
	}
	return nil
}

// Commit remembers what an ended Learner learnt for blob, the digest the
// registry verified against the bytes written to it: the diff_id in r's
// Store (blob itself for a plain tar) and the tap's layer.
func (l *Learner) Commit(ctx context.Context, blob digest.Digest) error {
	if !l.ended || l.stopped != nil {
		l.Discard()
		return fmt.Errorf("diffid: committing upload %s: nothing learnt", blob)
	}
	if err := blob.Validate(); err != nil {
		l.Discard()
		return fmt.Errorf("diffid: committing an upload: %w", err)
	}
	diffID := l.layer.DiffID
	if l.plain {
		diffID = blob
	}
	if l.sink != nil {
		l.sink.Finish(blob, nil)
		l.sink = nil
	}
	return l.r.Remember(ctx, blob, diffID)
}

// Discard abandons the Learner: the read stops if it still runs, and the
// tap's sink learns that the layer was not stored.
func (l *Learner) Discard() {
	if l.pw != nil && !l.ended {
		l.pw.CloseWithError(errDiscarded)
		<-l.done
		l.ended = true
	}
	l.stop(errDiscarded)
	if l.sink != nil {
		l.sink.Finish("", errDiscarded)
		l.sink = nil
	}
}
