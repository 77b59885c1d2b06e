package ingest

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/distribution/distribution/v3"
)

// blobWriter is distribution's blob writer for one resumed upload, except
// that a request body (ReadFrom: distribution's PATCH and PUT handlers copy
// the body with io.Copy) is stored by the parallel copy instead of
// distribution's sequential one. Everything else — the upload's size, the
// commit with its digest check, the cancel, closing — is distribution's
// writer's, which after a body is a writer resumed afresh: it finds the
// upload's data grown and the hash state stored at its new size, exactly
// as if distribution had written them.
type blobWriter struct {
	distribution.BlobWriter
	// ctx is the context of the request that resumed the upload.
	ctx   context.Context
	store distribution.BlobStore // distribution's, to resume the upload again
	repo  string
	in    *Ingester
}

// ReadFrom appends r to the upload and returns the bytes appended. On a
// read error (a client gone mid-body) the bytes received are kept and
// their hash state stored, as distribution does: the upload stays
// consistent at its new size, and a client that asks for the upload's
// status resumes from there. On a write error no hash state is stored for
// the new size, so distribution verifies the upload by reading it back
// at the commit instead of trusting a hash of bytes that may not be on
// disk. When the upload's hash state at its current size cannot be loaded
// (an upload started without resumable digests), the body goes through
// distribution's own path.
func (w *blobWriter) ReadFrom(r io.Reader) (int64, error) {
	ctx := w.ctx
	id := w.ID()
	unlock := w.in.locks.lock(w.repo + "/" + id)
	defer unlock()

	offset := w.Size()
	h, err := w.loadHashState(ctx, id, offset)
	if err != nil {
		w.in.logger.DebugContext(ctx, "upload has no resumable hash state; distribution stores the body", "upload", id, "offset", offset, "error", err.Error())
		return w.BlobWriter.ReadFrom(r)
	}
	// Release distribution's writer: ours appends to the same file. (Its
	// Close stores the hash state of what it hashed, nothing: the empty
	// state at offset 0, the same bytes distribution stored when the
	// upload was created.)
	if err := w.BlobWriter.Close(); err != nil {
		return 0, fmt.Errorf("ingest: closing upload %s before its body: %w", id, err)
	}
	w.in.bodies.Add(1)
	n, copyErr := w.appendBody(ctx, id, offset, h, r)
	resumed, err := w.store.Resume(ctx, id)
	if err != nil {
		return n, errors.Join(copyErr, fmt.Errorf("ingest: resuming upload %s after its body: %w", id, err))
	}
	w.BlobWriter = resumed
	return n, copyErr
}

// appendBody streams r onto the upload's data file at offset, hashing it
// with h (the state at offset) on the side, then stores h's state at the
// new size — after the data file is closed (fsynced by the filesystem
// drivers), and only if every byte hashed was written.
func (w *blobWriter) appendBody(ctx context.Context, id string, offset int64, h hash.Hash, r io.Reader) (int64, error) {
	dataPath := uploadDataPath(w.repo, id)
	fw, err := w.in.driver.Writer(ctx, dataPath, true)
	if err != nil {
		return 0, fmt.Errorf("ingest: opening upload %s: %w", id, err)
	}
	if size := fw.Size(); size != offset {
		// Another process appended since the request's upload was
		// resumed: refuse rather than interleave bodies.
		return 0, errors.Join(fmt.Errorf("ingest: upload %s is at %d bytes, expected %d: written concurrently", id, size, offset), fw.Close())
	}
	res := copyParallel(r, h, fw)
	closeErr := fw.Close()
	if res.writeErr != nil || closeErr != nil {
		return res.written, errors.Join(res.readErr, wrapNonNil("ingest: writing upload "+id, res.writeErr),
			wrapNonNil("ingest: closing upload "+id, closeErr))
	}
	if err := w.storeHashState(ctx, id, offset+res.written, h); err != nil {
		return res.written, errors.Join(res.readErr, err)
	}
	return res.written, res.readErr
}

// loadHashState returns a sha256 resumed at offset from the state
// distribution stored there (none is needed at offset 0).
func (w *blobWriter) loadHashState(ctx context.Context, id string, offset int64) (hash.Hash, error) {
	h := sha256.New()
	if offset == 0 {
		return h, nil
	}
	state, err := w.in.driver.GetContent(ctx, hashStatePath(w.repo, id, offset))
	if err != nil {
		return nil, fmt.Errorf("ingest: reading the hash state of upload %s at %d: %w", id, offset, err)
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("ingest: hash state of upload %s at %d: %w", id, offset, err)
	}
	return h, nil
}

// storeHashState stores h's state where distribution's resumeDigest looks
// for the state at offset.
func (w *blobWriter) storeHashState(ctx context.Context, id string, offset int64, h hash.Hash) error {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("ingest: hash state of upload %s: %w", id, err)
	}
	if err := w.in.driver.PutContent(ctx, hashStatePath(w.repo, id, offset), state); err != nil {
		return fmt.Errorf("ingest: storing the hash state of upload %s at %d: %w", id, offset, err)
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
