package ingest

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// blobWriter is one resumed upload. A request body (ReadFrom: distribution's
// PATCH and PUT handlers copy the body with io.Copy) is stored by the
// parallel copy, which leaves the upload exactly as distribution's writer
// would — the data appended, the sha256 state stored at the new size. What
// only distribution's writer can do (Commit with its digest check, Cancel,
// Write) goes to distribution's writer, resumed on first use, which then
// finds the upload as if it had stored the body itself. Until then the
// writer holds no file open: a PATCH costs a stat, the copy and the hash
// state, not distribution's open, fsync and state write on top.
type blobWriter struct {
	// ctx is the context of the request that resumed the upload.
	ctx       context.Context
	store     distribution.BlobStore // distribution's, to resume the upload
	in        *Ingester
	repo, id  string
	startedAt time.Time
	// size is the upload's size: its data file's when resumed, grown by
	// the bodies stored since.
	size int64
	// dist is distribution's writer for the upload, nil until needed.
	dist distribution.BlobWriter
}

// resume opens upload id of repo as distribution's Resume does — an upload
// without its startedat file is unknown — without opening its data.
func resume(ctx context.Context, store distribution.BlobStore, in *Ingester, repo, id string) (*blobWriter, error) {
	raw, err := in.driver.GetContent(ctx, uploadStartedAtPath(repo, id))
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil, distribution.ErrBlobUploadUnknown
	}
	if err != nil {
		return nil, err
	}
	startedAt, err := time.Parse(time.RFC3339, string(raw))
	if err != nil {
		return nil, err
	}
	var size int64
	fi, err := in.driver.Stat(ctx, uploadDataPath(repo, id))
	switch {
	case errors.As(err, new(storagedriver.PathNotFoundError)):
	case err != nil:
		return nil, err
	default:
		size = fi.Size()
	}
	return &blobWriter{ctx: ctx, store: store, in: in, repo: repo, id: id, startedAt: startedAt, size: size}, nil
}

// distribution returns distribution's writer for the upload, resuming it
// on first use.
func (w *blobWriter) distribution() (distribution.BlobWriter, error) {
	if w.dist == nil {
		d, err := w.store.Resume(w.ctx, w.id)
		if err != nil {
			return nil, fmt.Errorf("ingest: resuming upload %s: %w", w.id, err)
		}
		w.dist = d
	}
	return w.dist, nil
}

// ID implements distribution.BlobWriter.
func (w *blobWriter) ID() string { return w.id }

// StartedAt implements distribution.BlobWriter.
func (w *blobWriter) StartedAt() time.Time { return w.startedAt }

// Size implements distribution.BlobWriter.
func (w *blobWriter) Size() int64 {
	if w.dist != nil {
		return w.dist.Size()
	}
	return w.size
}

// Write implements io.Writer through distribution's writer (its handlers
// copy bodies with io.Copy, which calls ReadFrom instead).
func (w *blobWriter) Write(p []byte) (int, error) {
	d, err := w.distribution()
	if err != nil {
		return 0, err
	}
	return d.Write(p)
}

// Close implements io.Closer: distribution's writer, if resumed, stores
// its hash state and closes its file; a body stored by ReadFrom is already
// closed, fsynced and its state stored.
func (w *blobWriter) Close() error {
	if w.dist != nil {
		return w.dist.Close()
	}
	return nil
}

// Commit implements distribution.BlobWriter: distribution's writer
// commits, resuming the digest from the state stored at the upload's size
// (no re-read) and refusing a digest that does not match.
// A tap's sink held for the upload (its one body went through it whole)
// is committed when distribution accepted the upload under the digest
// and size the copy computed over the bytes the sink saw, and discarded
// otherwise.
func (w *blobWriter) Commit(ctx context.Context, provisional v1.Descriptor) (v1.Descriptor, error) {
	held := w.in.taps.take(w.key())
	d, err := w.distribution()
	var desc v1.Descriptor
	if err == nil {
		desc, err = d.Commit(ctx, provisional)
	}
	if held != nil {
		w.settleTap(ctx, held, desc, err)
	}
	return desc, err
}

// settleTap commits held when the upload was committed as the bytes it
// saw, else discards it.
func (w *blobWriter) settleTap(ctx context.Context, held *heldSink, desc v1.Descriptor, err error) {
	if err != nil || desc.Digest != held.blob || desc.Size != held.size {
		w.in.taps.discard(held.sink)
		return
	}
	if cerr := held.sink.Commit(context.WithoutCancel(ctx), desc.Digest); cerr != nil {
		w.in.logger.WarnContext(ctx, "remembering what an upload's tap learnt failed; the manifest reads the layer", "upload", w.id,
			"blob", desc.Digest.String(), "error", cerr.Error())
		return
	}
	w.in.taps.committed.Add(1)
}

// Cancel implements distribution.BlobWriter.
func (w *blobWriter) Cancel(ctx context.Context) error {
	w.in.taps.drop(w.key())
	d, err := w.distribution()
	if err != nil {
		return err
	}
	return d.Cancel(ctx)
}

// key names the upload in the Ingester's locks and taps.
func (w *blobWriter) key() string { return w.repo + "/" + w.id }

// ReadFrom appends r to the upload and returns the bytes appended. On a
// read error (a client gone mid-body) the bytes received are kept and
// their hash state stored, as distribution does: the upload stays
// consistent at its new size, and a client that asks for the upload's
// status resumes from there. On a write error no hash state is stored for
// the new size, so distribution verifies the upload by reading it back at
// the commit instead of trusting a hash of bytes that may not be on disk.
// When the upload's hash state at its size cannot be loaded (an upload
// started without resumable digests), or distribution's writer is already
// in use, the body goes through distribution's writer.
func (w *blobWriter) ReadFrom(r io.Reader) (int64, error) {
	unlock := w.in.locks.lock(w.key())
	defer unlock()
	var h hash.Hash
	var err error
	if w.dist == nil {
		h, err = w.loadHashState(w.ctx, w.size)
	}
	if w.dist != nil || err != nil {
		if err != nil {
			w.in.logger.DebugContext(w.ctx, "upload has no resumable hash state; distribution stores the body", "upload", w.id, "offset", w.size, "error", err.Error())
		}
		d, derr := w.distribution()
		if derr != nil {
			return 0, derr
		}
		return d.ReadFrom(r)
	}
	w.in.bodies.Add(1)
	var sink *runningSink
	if w.size == 0 {
		sink = w.in.taps.begin(w.ctx)
	}
	n, res, err := w.appendBody(w.ctx, h, r, sink)
	w.size += n
	switch {
	case sink != nil:
		if res.tapBehind {
			w.in.logger.DebugContext(w.ctx, "the upload's tap fell behind the body and was dropped; the manifest reads the layer", "upload", w.id)
		}
		// h is the sha256 of the whole upload: the body started it.
		w.in.taps.end(w.key(), sink, res.tapped && err == nil, digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), w.size)
	case n > 0:
		w.in.taps.drop(w.key()) // a second body: the tap saw only the first
	}
	return n, err
}

// appendBody streams r onto the upload's data file at w.size, hashing it
// with h (the state at w.size) on the side, then stores h's state at the
// new size — after the data file is closed (fsynced by the filesystem
// drivers), and only if every byte hashed was written. It returns the
// bytes appended, and what the copy did (res.tapped: sink, nil for none,
// was given all of them).
func (w *blobWriter) appendBody(ctx context.Context, h hash.Hash, r io.Reader, sink *runningSink) (int64, copyResult, error) {
	fw, err := w.in.driver.Writer(ctx, uploadDataPath(w.repo, w.id), true)
	if err != nil {
		return 0, copyResult{}, fmt.Errorf("ingest: opening upload %s: %w", w.id, err)
	}
	if size := fw.Size(); size != w.size {
		// Another process appended since this request resumed the
		// upload: refuse rather than interleave bodies.
		return 0, copyResult{}, errors.Join(fmt.Errorf("ingest: upload %s is at %d bytes, expected %d: written concurrently", w.id, size, w.size), fw.Close())
	}
	var tap io.Writer
	if sink != nil {
		tap = sink
	}
	res := copyParallel(r, h, fw, tap)
	closeErr := fw.Close()
	if res.writeErr != nil || closeErr != nil {
		err := errors.Join(res.readErr, wrapNonNil("ingest: writing upload "+w.id, res.writeErr),
			wrapNonNil("ingest: closing upload "+w.id, closeErr))
		// What reached the file is unknown: report the file's size. No
		// hash state is stored there, so distribution's writer re-reads
		// the upload at the commit.
		res.tapped = false
		if fi, serr := w.in.driver.Stat(ctx, uploadDataPath(w.repo, w.id)); serr == nil {
			return fi.Size() - w.size, res, err
		}
		return res.written, res, err
	}
	if err := w.storeHashState(ctx, w.size+res.written, h); err != nil {
		res.tapped = false
		return res.written, res, errors.Join(res.readErr, err)
	}
	return res.written, res, res.readErr
}

// loadHashState returns a sha256 resumed at offset from the state
// distribution stored there (none is needed at offset 0).
func (w *blobWriter) loadHashState(ctx context.Context, offset int64) (hash.Hash, error) {
	h := sha256.New()
	if offset == 0 {
		return h, nil
	}
	state, err := w.in.driver.GetContent(ctx, hashStatePath(w.repo, w.id, offset))
	if err != nil {
		return nil, fmt.Errorf("ingest: reading the hash state of upload %s at %d: %w", w.id, offset, err)
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("ingest: hash state of upload %s at %d: %w", w.id, offset, err)
	}
	return h, nil
}

// storeHashState stores h's state where distribution's resumeDigest looks
// for the state at offset.
func (w *blobWriter) storeHashState(ctx context.Context, offset int64, h hash.Hash) error {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("ingest: hash state of upload %s: %w", w.id, err)
	}
	if err := w.in.driver.PutContent(ctx, hashStatePath(w.repo, w.id, offset), state); err != nil {
		return fmt.Errorf("ingest: storing the hash state of upload %s at %d: %w", w.id, offset, err)
	}
	return nil
}

func wrapNonNil(msg string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", msg, err)
}

var _ distribution.BlobWriter = (*blobWriter)(nil)
