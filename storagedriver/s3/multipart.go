package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// createUpload starts a multipart upload at key, encrypted and declaring the
// checksum algorithm of its parts (see declareChecksums).
func (d *driver) createUpload(ctx context.Context, key string) (string, error) {
	declare, err := d.declareChecksums(ctx)
	if err != nil {
		return "", err
	}
	algorithm := d.cfg.Checksum.sdk()
	if !declare {
		algorithm = ""
	}
	out, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(d.cfg.Bucket),
		Key:                  aws.String(key),
		ContentType:          aws.String(contentType),
		ServerSideEncryption: d.sse.mode,
		SSEKMSKeyId:          d.sse.keyID,
		BucketKeyEnabled:     d.sse.bucketKey,
		StorageClass:         d.storageClass(),
		ChecksumAlgorithm:    algorithm,
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.UploadId), nil
}

// findUploads returns the ids of the multipart uploads in progress at
// exactly key, newest first.
func (d *driver) findUploads(ctx context.Context, key string) ([]string, error) {
	type upload struct {
		id        string
		initiated time.Time
		order     int
	}
	var uploads []upload
	err := d.eachUpload(ctx, key, func(u types.MultipartUpload) error {
		if aws.ToString(u.Key) == key {
			uploads = append(uploads, upload{aws.ToString(u.UploadId), aws.ToTime(u.Initiated), len(uploads)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// S3 lists one key's uploads oldest first; the listing order breaks ties.
	slices.SortFunc(uploads, func(a, b upload) int {
		if c := b.initiated.Compare(a.initiated); c != 0 {
			return c
		}
		return b.order - a.order
	})
	ids := make([]string, len(uploads))
	for i, u := range uploads {
		ids[i] = u.id
	}
	return ids, nil
}

// resumableUpload picks the upload to resume at key among ids (newest
// first): the one holding the most bytes, the newest on a tie. Several exist
// only when a CreateMultipartUpload was retried after its response was
// lost, or a writer was abandoned; the others are aborted.
func (d *driver) resumableUpload(ctx context.Context, key string, ids []string) (string, []part, error) {
	best, bestParts, bestSize := "", []part(nil), int64(-1)
	for _, id := range ids {
		parts, err := d.listParts(ctx, key, id)
		if err != nil {
			return "", nil, err
		}
		var size int64
		for _, p := range parts {
			size += p.size
		}
		if size > bestSize {
			best, bestParts, bestSize = id, parts, size
		}
	}
	for _, id := range ids {
		if id != best {
			_ = d.abortUpload(ctx, key, id) // best effort: a lifecycle rule catches leftovers
		}
	}
	return best, bestParts, nil
}

// listParts returns the parts of an upload numbered 1…n without a gap;
// parts after a gap (uploads that failed in between) are ignored and will
// be overwritten.
func (d *driver) listParts(ctx context.Context, key, uploadID string) ([]part, error) {
	var parts []part
	pages := s3.NewListPartsPaginator(d.client, &s3.ListPartsInput{
		Bucket:   aws.String(d.cfg.Bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Parts {
			parts = append(parts, part{
				number:   aws.ToInt32(p.PartNumber),
				etag:     aws.ToString(p.ETag),
				size:     aws.ToInt64(p.Size),
				checksum: d.partChecksum(p.ChecksumSHA256, p.ChecksumCRC32C),
			})
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return int(a.number - b.number) })
	for i, p := range parts {
		if p.number != int32(i+1) {
			return parts[:i], nil
		}
	}
	return parts, nil
}

// partChecksum picks the configured algorithm's checksum of a listed or
// copied part.
func (d *driver) partChecksum(sha, crc *string) string {
	switch d.cfg.Checksum {
	case ChecksumSHA256:
		return aws.ToString(sha)
	case ChecksumCRC32C:
		return aws.ToString(crc)
	}
	return ""
}

// uploadPart uploads body as part number of an upload, with its checksum.
// S3 rejects a body that does not match it (BadDigest, retried); a reported
// checksum that differs is retried too (reportedChecksumCheck).
func (d *driver) uploadPart(ctx context.Context, key, uploadID string, number int32, body []byte) (part, error) {
	in := &s3.UploadPartInput{
		Bucket:        aws.String(d.cfg.Bucket),
		Key:           aws.String(key),
		UploadId:      aws.String(uploadID),
		PartNumber:    aws.Int32(number),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	sum := d.cfg.Checksum.sum(body)
	switch d.cfg.Checksum {
	case ChecksumSHA256:
		in.ChecksumAlgorithm, in.ChecksumSHA256 = types.ChecksumAlgorithmSha256, aws.String(sum)
	case ChecksumCRC32C:
		in.ChecksumAlgorithm, in.ChecksumCRC32C = types.ChecksumAlgorithmCrc32c, aws.String(sum)
	}
	out, err := d.client.UploadPart(ctx, in, d.payloadOptions)
	if err != nil {
		return part{}, err
	}
	return part{number: number, etag: aws.ToString(out.ETag), size: int64(len(body)), checksum: sum}, nil
}

// completeUpload completes an upload of size bytes from parts and verifies
// the result (see writer.Commit). Without parts it stores an empty object.
func (d *driver) completeUpload(ctx context.Context, key, uploadID string, parts []part, size int64) error {
	if len(parts) == 0 {
		if err := d.abortUpload(ctx, key, uploadID); err != nil {
			return err
		}
		_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:               aws.String(d.cfg.Bucket),
			Key:                  aws.String(key),
			Body:                 bytes.NewReader(nil),
			ContentLength:        aws.Int64(0),
			ContentType:          aws.String(contentType),
			ServerSideEncryption: d.sse.mode,
			SSEKMSKeyId:          d.sse.keyID,
			BucketKeyEnabled:     d.sse.bucketKey,
			StorageClass:         d.storageClass(),
		})
		return err
	}
	declared, err := d.declareChecksums(ctx)
	if err != nil {
		return err
	}
	completed := make([]types.CompletedPart, len(parts))
	sums := make([]string, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{ETag: aws.String(p.etag), PartNumber: aws.Int32(p.number)}
		switch {
		case !declared:
		case d.cfg.Checksum == ChecksumSHA256:
			completed[i].ChecksumSHA256 = nonEmpty(p.checksum)
		case d.cfg.Checksum == ChecksumCRC32C:
			completed[i].ChecksumCRC32C = nonEmpty(p.checksum)
		}
		sums[i] = p.checksum
	}
	out, err := d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(d.cfg.Bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		return fmt.Errorf("s3 storage: complete upload of %s: %w", key, err)
	}
	// NoSuchUpload after a retry: an earlier attempt may have completed it;
	// the size check below decides.
	if err == nil && declared {
		reported := d.partChecksum(out.ChecksumSHA256, out.ChecksumCRC32C)
		if want, ok := d.cfg.Checksum.composite(sums); ok && strings.Contains(reported, "-") && reported != want {
			return d.discard(ctx, key, &checksumMismatchError{what: key, sent: want, reported: reported})
		}
	}
	head, herr := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)})
	switch {
	case herr != nil && err != nil:
		return fmt.Errorf("s3 storage: complete upload of %s: %w", key, err)
	case herr != nil:
		return fmt.Errorf("s3 storage: verify %s: %w", key, herr)
	case aws.ToInt64(head.ContentLength) != size:
		return d.discard(ctx, key, fmt.Errorf("s3 storage: %s: stored %d bytes, wrote %d",
			key, aws.ToInt64(head.ContentLength), size))
	}
	return nil
}

// discard deletes an object that failed verification and returns cause.
func (d *driver) discard(ctx context.Context, key string, cause error) error {
	if err := d.deleteObject(ctx, key); err != nil {
		return errors.Join(cause, fmt.Errorf("delete unverified object: %w", err))
	}
	return cause
}

// abortUpload aborts an upload; one already gone is not an error.
func (d *driver) abortUpload(ctx context.Context, key, uploadID string) error {
	_, err := d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(d.cfg.Bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		return err
	}
	return nil
}

func (d *driver) deleteObject(ctx context.Context, key string) error {
	_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.cfg.Bucket), Key: aws.String(key)})
	return err
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
