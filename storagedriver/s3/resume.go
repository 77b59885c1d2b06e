package s3

import (
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// restart makes a resumed upload writable again when its last part is
// smaller than 5 MiB, which S3 accepts only as the last part of an upload
// (Close uploads whatever is buffered so that another instance can resume).
// It completes the upload, starts a new one at the same key and copies the
// object into it server-side as part 1 (UploadPartCopy). Objects over 5 GiB,
// and sources the store cannot copy whole, are copied part by part instead
// (same numbers and boundaries), and the small last part is read back into
// the write buffer.
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

	// Usually the whole completed object becomes part 1 of the new upload:
	// one server-side copy, the small last part included (part 1 may have
	// any size from 5 MiB to 5 GiB), nothing read back. Copying part by
	// part instead costs one request per part and, resumed after every
	// chunk of a chunked upload, quadratically many.
	if w.size >= MinChunkSize && w.size <= MaxPartSize {
		out, err := d.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket:     aws.String(d.cfg.Bucket),
			Key:        aws.String(w.key),
			UploadId:   aws.String(id),
			PartNumber: aws.Int32(1),
			CopySource: aws.String(d.copySource(w.key)),
		})
		switch {
		case err == nil:
			p := part{number: 1, size: w.size}
			if res := out.CopyPartResult; res != nil {
				p.etag = aws.ToString(res.ETag)
				p.checksum = d.partChecksum(res.ChecksumSHA256, res.ChecksumCRC32C)
			}
			w.parts, w.buf, w.nextPart, w.needRestart = []part{p}, nil, 2, false
			return nil
		case !hasCode(err, "NotImplemented"):
			return fmt.Errorf("copy %s into a new upload: %w", w.key, err)
		}
		// The store cannot copy this source (SeaweedFS: SSE-KMS): copy part
		// by part below, through the client, one bounded part at a time.
	}

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
