package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Hashed is a blob upload whose bytes its writer hashes itself: the
// tarball door (shim) computes the sha256 of every blob it stores anyway
// (the digest it commits under), so writing through distribution's blob
// writer, whose digester hashes the same bytes again to verify the
// commit, costs a second sha256 of every byte (61 % of the door's CPU
// with upload.layercompression none: docs/performance.md, round 5).
// A Hashed upload writes its bytes straight to the upload's data file
// through the storage driver, and at Commit stores the writer's hash
// state where distribution resumes it, as ReadFrom does for a request
// body: distribution's writer then commits — digest check included —
// without hashing a byte.
//
// Write is for one goroutine at a time; Commit or Cancel ends the upload.
type Hashed struct {
	w  *blobWriter // the upload, as ingest resumes a PATCH's
	fw storagedriver.FileWriter
	// written counts the bytes Write took: the size Commit checks.
	written int64
	closed  bool
}

// CreateHashed starts an upload in store — distribution's blob store of
// repository repo, over the Ingester's storage, not wrapped by its
// middleware — and opens its data file for Write. distribution creates
// the upload (its start time, its empty data file), so that it commits,
// cancels and cleans it up as any other.
func (in *Ingester) CreateHashed(ctx context.Context, store distribution.BlobStore, repo string) (*Hashed, error) {
	bw, err := store.Create(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: creating an upload: %w", err)
	}
	id := bw.ID()
	if err := bw.Close(); err != nil {
		return nil, errors.Join(fmt.Errorf("ingest: closing new upload %s: %w", id, err), bw.Cancel(ctx))
	}
	w, err := resume(ctx, store, in, repo, id)
	if err != nil {
		return nil, fmt.Errorf("ingest: opening new upload %s: %w", id, err)
	}
	fw, err := in.driver.Writer(ctx, uploadDataPath(repo, id), true)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("ingest: opening upload %s: %w", id, err), w.Cancel(ctx))
	}
	if fw.Size() != 0 {
		return nil, errors.Join(fmt.Errorf("ingest: new upload %s holds %d bytes", id, fw.Size()), fw.Cancel(ctx), fw.Close(), w.Cancel(ctx))
	}
	return &Hashed{w: w, fw: fw}, nil
}

// ID is the upload's id.
func (u *Hashed) ID() string { return u.w.id }

// Write appends p to the upload's data file; it does not hash p.
func (u *Hashed) Write(p []byte) (int, error) {
	n, err := u.fw.Write(p)
	u.written += int64(n)
	return n, err
}

// Commit closes the data file (fsynced by the filesystem drivers), stores
// sum's state at the upload's size and lets distribution's writer commit
// the upload as desc: it resumes the digest from that state and refuses
// a desc.Digest other than sum's, or a desc.Size other than the bytes
// written. sum must be the sha256 of exactly the bytes given to Write,
// in order: that is the digest the blob is stored under.
func (u *Hashed) Commit(ctx context.Context, desc v1.Descriptor, sum hash.Hash) (v1.Descriptor, error) {
	if err := u.close(); err != nil {
		return v1.Descriptor{}, err
	}
	if desc.Size != u.written {
		return v1.Descriptor{}, distribution.ErrBlobInvalidLength
	}
	if err := u.w.storeHashState(ctx, u.written, sum); err != nil {
		return v1.Descriptor{}, err
	}
	u.w.size = u.written
	desc, err := u.w.Commit(ctx, desc)
	if err != nil {
		// distribution's writer closed its file (a refused digest) or
		// not (a failed fsync); either way Cancel resumes the upload
		// afresh, so that it is removed (distribution's own writer
		// fails to cancel after a failed commit and leaves it).
		if u.w.dist != nil {
			_ = u.w.dist.Close()
			u.w.dist = nil
		}
		return desc, err
	}
	u.w.in.hashed.Add(1)
	return desc, nil
}

// Cancel abandons the upload: its data file is closed and the upload
// removed by distribution.
func (u *Hashed) Cancel(ctx context.Context) error {
	var err error
	if !u.closed {
		u.closed = true
		err = u.fw.Cancel(ctx)
		_ = u.fw.Close() // some drivers' Cancel closes (fs), others' does not (inmemory)
	}
	return errors.Join(err, u.w.Cancel(ctx))
}

// close closes the data file once.
func (u *Hashed) close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	if err := u.fw.Close(); err != nil {
		return fmt.Errorf("ingest: closing upload %s: %w", u.w.id, err)
	}
	return nil
}
