package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// part is an uploaded part of a multipart upload.
type part struct {
	number   int32
	etag     string
	size     int64
	checksum string // base64, "" when checksums are off or S3 did not list it
}

// Writer returns a FileWriter for p.
//
// Without appendMode it starts a new multipart upload, aborting those still
// in progress at p (abandoned writers: a later append must continue this
// one).
//
// With appendMode it continues the multipart upload in progress at p,
// possibly started by another driver instance: its parts are listed again
// (the contiguous ones from part 1 count; see resumableUpload when there
// are several). When there is none, appending to a zero-length object
// starts a new upload, a missing path is PathNotFoundError, and a
// non-empty object is refused.
func (d *driver) Writer(ctx context.Context, p string, appendMode bool) (storagedriver.FileWriter, error) {
	key := d.key(p)
	if !appendMode {
		stale, err := d.findUploads(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, id := range stale {
			if err := d.abortUpload(ctx, key, id); err != nil {
				return nil, err
			}
		}
		id, err := d.createUpload(ctx, key)
		if err != nil {
			return nil, err
		}
		return d.newWriter(ctx, p, key, id, nil), nil
	}
	ids, err := d.findUploads(ctx, key)
	if err != nil {
		return nil, d.pathError(p, err)
	}
	if len(ids) == 0 {
		fi, err := d.Stat(ctx, p)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() || fi.Size() != 0 {
			return nil, storagedriver.Error{DriverName: DriverName,
				Detail: fmt.Errorf("append to %s: no upload in progress and the path is not an empty object", p)}
		}
		id, err := d.createUpload(ctx, key)
		if err != nil {
			return nil, err
		}
		return d.newWriter(ctx, p, key, id, nil), nil
	}
	id, parts, err := d.resumableUpload(ctx, key, ids)
	if err != nil {
		return nil, err
	}
	w := d.newWriter(ctx, p, key, id, parts)
	if !w.needRestart { // uploads whose last part is small have no tail (see restart)
		if err := w.loadTail(ctx); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// writer buffers written bytes into parts of PartSize and uploads full parts
// in the background, at most UploadConcurrency × ChunkSize bytes at a time
// (see dispatch). Close uploads the buffered rest as a (possibly small) last
// part so that another instance can resume; Commit completes the upload and
// verifies the object.
type writer struct {
	d        *driver
	ctx      context.Context // of the Writer call: the uploads run under it
	path     string
	key      string
	uploadID string

	parts    []part // uploaded, numbered 1…len(parts)
	size     int64  // bytes written, uploaded or not
	buf      *[]byte
	nextPart int32 // number of the part being buffered

	// needRestart is set when the last uploaded part is smaller than S3's
	// minimum of a non-last part: the next write must first rebuild the
	// upload (see restart).
	needRestart bool
	// hasTail is set when a tail object of this upload exists (see tail.go).
	hasTail bool
	// restarted is set once restart completed the original upload, leaving
	// an object at key that Cancel must remove.
	restarted bool
	// wrote is set by the first Write of a byte: until then Close leaves
	// the upload as the writer found it.
	wrote bool

	sem      chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	inflight []part
	err      error // first background upload error

	closed, committed, cancelled bool
}

func (d *driver) newWriter(ctx context.Context, p, key, uploadID string, parts []part) *writer {
	w := &writer{
		d: d, ctx: ctx, path: p, key: key, uploadID: uploadID,
		parts: parts, nextPart: int32(len(parts)) + 1,
		sem: make(chan struct{}, d.cfg.UploadConcurrency),
	}
	for _, pt := range parts {
		w.size += pt.size
	}
	w.needRestart = len(parts) > 0 && parts[len(parts)-1].size < MinChunkSize
	return w
}

// Write buffers b, handing every full part to a background upload. It
// blocks while UploadConcurrency parts are in flight, and returns the first
// error of an earlier background upload.
func (w *writer) Write(b []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	if err := w.failed(); err != nil {
		return 0, err
	}
	if len(b) > 0 {
		w.wrote = true
	}
	if len(b) > 0 && w.needRestart {
		if err := w.restart(); err != nil {
			return 0, fmt.Errorf("s3 storage: resume upload of %s: %w", w.path, err)
		}
	}
	n := 0
	for len(b) > 0 {
		if w.buf == nil {
			if w.nextPart > MaxParts {
				return n, fmt.Errorf("s3 storage: %s exceeds %d parts (%d bytes)", w.path, MaxParts, w.size)
			}
			w.buf = w.d.getBuffer(PartSize(w.d.cfg.ChunkSize, w.nextPart))
		}
		buf := *w.buf
		k := copy(buf[len(buf):cap(buf)], b)
		*w.buf = buf[:len(buf)+k]
		b, n, w.size = b[k:], n+k, w.size+int64(k)
		if len(*w.buf) == cap(*w.buf) {
			if err := w.dispatch(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// dispatch starts the upload of the buffered part. A part takes one upload
// slot per ChunkSize bytes of its part size (at least one, at most all), so
// the bytes in flight stay within UploadConcurrency × ChunkSize, or one
// part, as parts grow.
func (w *writer) dispatch() error {
	buf, number := w.buf, w.nextPart
	w.buf = nil
	w.nextPart++
	weight := min(cap(w.sem), max(1, int((int64(cap(*buf))+w.d.cfg.ChunkSize-1)/w.d.cfg.ChunkSize)))
	release := func(n int) {
		for range n {
			<-w.sem
		}
	}
	for i := range weight {
		select {
		case w.sem <- struct{}{}:
		case <-w.ctx.Done():
			release(i)
			w.d.putBuffer(buf)
			return w.ctx.Err()
		}
	}
	if err := w.failed(); err != nil {
		release(weight)
		w.d.putBuffer(buf)
		return err
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		pt, err := w.d.uploadPart(w.ctx, w.key, w.uploadID, number, *buf)
		w.d.putBuffer(buf)
		release(weight)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.err == nil {
				w.err = fmt.Errorf("s3 storage: upload part %d of %s: %w", number, w.path, err)
			}
			return
		}
		w.inflight = append(w.inflight, pt)
	}()
	return nil
}

// failed returns the first background upload error.
func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// flush uploads the buffered bytes (however few) and waits for every upload
// in flight, adding them to w.parts.
func (w *writer) flush() error {
	if w.buf != nil && len(*w.buf) > 0 {
		if err := w.dispatch(); err != nil {
			w.wait()
			return err
		}
	} else if w.buf != nil {
		w.d.putBuffer(w.buf)
		w.buf = nil
	}
	return w.wait()
}

// wait waits for the uploads in flight and records them.
func (w *writer) wait() error {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parts = append(w.parts, w.inflight...)
	w.inflight = nil
	slices.SortFunc(w.parts, func(a, b part) int { return int(a.number - b.number) })
	if w.err == nil && len(w.parts) > 0 {
		w.needRestart = w.parts[len(w.parts)-1].size < MinChunkSize
	}
	return w.err
}

// Size returns the number of bytes written, including those resumed.
func (w *writer) Size() int64 { return w.size }

// Close uploads the buffered bytes and waits for every upload, leaving the
// multipart upload in progress for a later Writer(append) to resume.
// Buffered bytes too few for a part (under 5 MiB) are stored as the
// upload's tail object instead (see tail.go). A writer given no bytes
// stores nothing: its tail, read back when it was opened, is already
// stored — and storing it again would overwrite the tail of another writer
// that resumed the same upload and wrote since (a refused or empty
// request). After Commit or Cancel it only releases the writer.
func (w *writer) Close() error {
	if w.closed {
		return errors.New("s3 storage: writer already closed")
	}
	w.closed = true
	if w.committed || w.cancelled {
		return nil
	}
	if !w.wrote {
		if w.buf != nil {
			w.d.putBuffer(w.buf)
			w.buf = nil
		}
		return nil
	}
	if w.buf != nil && len(*w.buf) > 0 && len(*w.buf) < MinChunkSize {
		tail := w.buf
		w.buf = nil
		err := w.wait()
		if err == nil {
			err = w.putTail(w.ctx, *tail)
		}
		w.d.putBuffer(tail)
		return err
	}
	return w.flush()
}

// Cancel aborts the multipart upload, discarding everything written.
func (w *writer) Cancel(ctx context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	w.cancelled = true
	if w.buf != nil {
		w.d.putBuffer(w.buf)
		w.buf = nil
	}
	_ = w.wait()
	w.deleteTail(ctx)
	err := w.d.abortUpload(ctx, w.key, w.uploadID)
	if w.restarted {
		err = errors.Join(err, w.d.deleteObject(ctx, w.key))
	}
	return err
}

// Commit uploads the buffered bytes, completes the multipart upload and
// verifies that S3 stored exactly what was written: the checksum S3 reports
// for the object (when it reports one) and its size. An object that fails
// the check is deleted and Commit returns the error.
func (w *writer) Commit(ctx context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	w.committed = true
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.d.completeUpload(ctx, w.key, w.uploadID, w.parts, w.size); err != nil {
		return err
	}
	w.deleteTail(ctx)
	return nil
}

func (w *writer) usable() error {
	switch {
	case w.closed:
		return errors.New("s3 storage: writer already closed")
	case w.committed:
		return errors.New("s3 storage: writer already committed")
	case w.cancelled:
		return errors.New("s3 storage: writer already cancelled")
	}
	return nil
}

// getBuffer returns an empty buffer of capacity size.
func (d *driver) getBuffer(size int64) *[]byte {
	if size == d.cfg.ChunkSize {
		b := d.bufs.Get().(*[]byte)
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, size)
	return &b
}

func (d *driver) putBuffer(b *[]byte) {
	if b != nil && int64(cap(*b)) == d.cfg.ChunkSize {
		d.bufs.Put(b)
	}
}
