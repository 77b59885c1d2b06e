package s3

import (
	"fmt"
	"io"
)

// restart makes a resumed upload writable again when its last part is
// smaller than 5 MiB, which S3 accepts only as the last part of an upload
// (Close uploads whatever is buffered so that another instance can resume).
// It completes the upload, starts a new one at the same key, copies the
// earlier parts into it server-side with UploadPartCopy (same numbers and
// boundaries), and reads the small last part back into the write buffer.
// The completed object stays at the key until Commit overwrites it or
// Cancel deletes it.
func (w *writer) restart() error {
	ctx, d := w.ctx, w.d
	if err := d.completeUpload(ctx, w.key, w.uploadID, w.parts, w.size); err != nil {
		return err
	}
	w.restarted = true
	id, err := d.createUpload(ctx, w.key)
	if err != nil {
		return err
	}
	w.uploadID = id

	last := w.parts[len(w.parts)-1]
	ranges := make([]byteRange, 0, len(w.parts)-1)
	var offset int64
	for _, p := range w.parts[:len(w.parts)-1] {
		ranges = append(ranges, byteRange{number: p.number, first: offset, last: offset + p.size - 1})
		offset += p.size
	}
	copied, err := d.copyParts(ctx, w.key, w.key, id, ranges)
	if err != nil {
		return err
	}

	buf := d.getBuffer(PartSize(d.cfg.ChunkSize, last.number))
	if last.size > int64(cap(*buf)) {
		d.putBuffer(buf)
		return fmt.Errorf("last part %d has %d bytes, more than its part size %d", last.number, last.size, cap(*buf))
	}
	tail := &reader{d: d, ctx: ctx, path: w.path, key: w.key, offset: offset, end: offset + last.size}
	if err := tail.open(); err != nil {
		d.putBuffer(buf)
		return err
	}
	defer tail.Close()
	*buf = (*buf)[:last.size]
	if _, err := io.ReadFull(tail, *buf); err != nil {
		d.putBuffer(buf)
		return fmt.Errorf("read back last part: %w", err)
	}
	w.parts, w.buf, w.nextPart, w.needRestart = copied, buf, last.number, false
	return nil
}
