package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Tail objects keep the bytes a closed writer buffered that are too few for
// a part (under 5 MiB, S3's minimum for a part that is not the last), so
// that a resumed writer continues the same multipart upload: it reads the
// tail back into its buffer instead of completing and copying the upload
// (restart), which cost a server-side copy of everything written so far on
// every resume, quadratic over a chunked upload.
//
// The tail of the upload at key is the object
// ROOTDIRECTORY/_imagegate/tails/HEX(SHA-256(key)), with metadata naming the
// upload id, the number of the last uploaded part and the bytes in parts: a
// tail that does not match the upload being resumed is stale (a crash
// between the parts and the tail) and ignored. Commit and Cancel delete it;
// the lifecycle rule on _imagegate/ (bucket init) removes those of abandoned
// uploads. List and Walk never show _imagegate/.
const (
	tailPrefix        = probePrefix + "tails/"
	tailMetaUpload    = "imagegate-upload-id"
	tailMetaLastPart  = "imagegate-last-part"
	tailMetaPartBytes = "imagegate-part-bytes"
)

// tailKey returns the key of the tail object of the upload at key.
func (d *driver) tailKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return d.key("/" + tailPrefix + hex.EncodeToString(sum[:]))
}

// internalKey reports keys below ROOTDIRECTORY/_imagegate/, which List and
// Walk hide.
func (d *driver) internalKey(key string) bool {
	return strings.HasPrefix(key, d.dirKey("/")+probePrefix)
}

// tailMeta is the metadata binding a tail to the parts before it.
func (w *writer) tailMeta() map[string]string {
	var last int32
	var bytes int64
	for _, p := range w.parts {
		last, bytes = p.number, bytes+p.size
	}
	return map[string]string{
		tailMetaUpload:    w.uploadID,
		tailMetaLastPart:  strconv.Itoa(int(last)),
		tailMetaPartBytes: strconv.FormatInt(bytes, 10),
	}
}

// putTail stores content as the tail of w's upload (encrypted, with its
// checksum, like every object).
func (w *writer) putTail(ctx context.Context, content []byte) error {
	if err := w.d.putObject(ctx, w.d.tailKey(w.key), content, w.tailMeta()); err != nil {
		return fmt.Errorf("s3 storage: store the last %d bytes of %s: %w", len(content), w.path, err)
	}
	w.hasTail = true
	return nil
}

// loadTail reads the tail of w's upload, when there is one matching its
// parts, into the write buffer.
func (w *writer) loadTail(ctx context.Context) error {
	d := w.d
	key := d.tailKey(w.key)
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)})
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("s3 storage: read the last bytes of %s: %w", w.path, err)
	}
	want := w.tailMeta()
	for k, v := range want {
		if out.Metadata[k] != v {
			return nil // stale: written for other parts
		}
	}
	size := aws.ToInt64(out.ContentLength)
	buf := d.getBuffer(PartSize(d.cfg.ChunkSize, w.nextPart))
	if size >= int64(cap(*buf)) || size >= MinChunkSize {
		d.putBuffer(buf)
		return fmt.Errorf("s3 storage: the last bytes of %s are %d bytes, more than a tail", w.path, size)
	}
	// The resumable reader, pinned to the version just inspected.
	body := &reader{d: d, ctx: ctx, path: w.path, key: key, etag: aws.ToString(out.ETag), end: size}
	if size > 0 {
		if err := body.open(); err != nil {
			d.putBuffer(buf)
			return fmt.Errorf("s3 storage: read the last bytes of %s: %w", w.path, err)
		}
		defer body.Close()
	}
	*buf = (*buf)[:size]
	if _, err := io.ReadFull(body, *buf); size > 0 && err != nil {
		d.putBuffer(buf)
		return fmt.Errorf("s3 storage: read the last bytes of %s: %w", w.path, err)
	}
	w.buf, w.size, w.hasTail = buf, w.size+size, true
	return nil
}

// deleteTail removes w's tail object, if it wrote or read one. Best
// effort: a tail left behind is stale for any other upload and expires
// with the _imagegate/ lifecycle rule.
func (w *writer) deleteTail(ctx context.Context) {
	if w.hasTail {
		_ = w.d.deleteObject(ctx, w.d.tailKey(w.key))
	}
}
