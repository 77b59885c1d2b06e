package s3

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Move copies the object at src to dst server-side and deletes src. Objects
// up to MultipartCopyThreshold are copied with one CopyObject, larger ones
// with a multipart copy of MultipartCopyChunkSize parts. The copy is
// encrypted like every new object and gets a fresh checksum. A missing src
// is PathNotFoundError and leaves dst untouched.
func (d *driver) Move(ctx context.Context, src, dst string) error {
	srcKey, dstKey := d.key(src), d.key(dst)
	head, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(srcKey)})
	if err != nil {
		return d.pathError(src, err)
	}
	size := aws.ToInt64(head.ContentLength)
	if size <= d.cfg.MultipartCopyThreshold {
		_, err = d.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:               aws.String(d.cfg.Bucket),
			Key:                  aws.String(dstKey),
			CopySource:           aws.String(d.copySource(srcKey)),
			CopySourceIfMatch:    head.ETag,
			ContentType:          aws.String(contentType),
			MetadataDirective:    types.MetadataDirectiveReplace,
			ServerSideEncryption: d.sse.mode,
			SSEKMSKeyId:          d.sse.keyID,
			BucketKeyEnabled:     d.sse.bucketKey,
			StorageClass:         d.storageClass(),
			ChecksumAlgorithm:    d.cfg.Checksum.sdk(),
		})
	} else {
		err = d.multipartCopy(ctx, srcKey, dstKey, size)
	}
	if err != nil {
		return d.pathError(src, err)
	}
	return d.deleteObject(ctx, srcKey)
}

// multipartCopy copies an object of size bytes with UploadPartCopy.
func (d *driver) multipartCopy(ctx context.Context, srcKey, dstKey string, size int64) error {
	id, err := d.createUpload(ctx, dstKey)
	if err != nil {
		return err
	}
	chunk := d.cfg.MultipartCopyChunkSize
	if n := (size + chunk - 1) / chunk; n > MaxParts { // keep within 10,000 parts
		chunk = (size + MaxParts - 1) / MaxParts
	}
	var ranges []byteRange
	for off, n := int64(0), int32(1); off < size; off, n = off+chunk, n+1 {
		ranges = append(ranges, byteRange{number: n, first: off, last: min(off+chunk, size) - 1})
	}
	parts, err := d.copyParts(ctx, srcKey, dstKey, id, ranges)
	if err == nil {
		err = d.completeUpload(ctx, dstKey, id, parts, size)
	}
	if err != nil {
		_ = d.abortUpload(context.WithoutCancel(ctx), dstKey, id)
	}
	return err
}

// byteRange is the inclusive range [first, last] copied into part number.
type byteRange struct {
	number      int32
	first, last int64
}

// copyParts copies ranges of srcKey into the upload id of dstKey with
// UploadPartCopy, MultipartCopyConcurrency at a time, and returns the parts
// in order.
func (d *driver) copyParts(ctx context.Context, srcKey, dstKey, id string, ranges []byteRange) ([]part, error) {
	parts := make([]part, len(ranges))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, d.cfg.MultipartCopyConcurrency)
	var wg sync.WaitGroup
	for i, r := range ranges {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := d.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket:          aws.String(d.cfg.Bucket),
				Key:             aws.String(dstKey),
				UploadId:        aws.String(id),
				PartNumber:      aws.Int32(r.number),
				CopySource:      aws.String(d.copySource(srcKey)),
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", r.first, r.last)),
			})
			switch {
			case hasCode(err, "NotImplemented"):
				// Some stores cannot copy some sources (SeaweedFS: SSE-KMS).
				parts[i], err = d.copyPartThroughClient(ctx, srcKey, dstKey, id, r)
			case err == nil:
				parts[i] = part{number: r.number, size: r.last - r.first + 1}
				if res := out.CopyPartResult; res != nil {
					parts[i].etag = aws.ToString(res.ETag)
					parts[i].checksum = d.partChecksum(res.ChecksumSHA256, res.ChecksumCRC32C)
				}
			}
			if err != nil {
				cancel(fmt.Errorf("copy part %d of %s: %w", r.number, srcKey, err))
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return parts, nil
}

// copySource is the x-amz-copy-source of key: bucket/key, URL-encoded.
func (d *driver) copySource(key string) string {
	segments := strings.Split(key, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return d.cfg.Bucket + "/" + strings.Join(segments, "/")
}

// copyPartThroughClient copies a range by downloading and uploading it, for
// stores that refuse UploadPartCopy of the source. One range at a time per
// driver: it holds the range in memory.
func (d *driver) copyPartThroughClient(ctx context.Context, srcKey, dstKey, id string, r byteRange) (part, error) {
	d.clientCopyMu.Lock()
	defer d.clientCopyMu.Unlock()
	src := &reader{d: d, ctx: ctx, path: srcKey, key: srcKey, offset: r.first, end: r.last + 1}
	if err := src.open(); err != nil {
		return part{}, err
	}
	defer src.Close()
	buf := make([]byte, r.last-r.first+1)
	if _, err := io.ReadFull(src, buf); err != nil {
		return part{}, fmt.Errorf("read source range: %w", err)
	}
	return d.uploadPart(ctx, dstKey, id, r.number, buf)
}
