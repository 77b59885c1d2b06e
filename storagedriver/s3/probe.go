package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// declareChecksums reports whether multipart uploads declare their checksum
// algorithm at CreateMultipartUpload (and so must list every part's
// checksum at CompleteMultipartUpload).
//
// S3 requires the declaration for parts to carry checksums, and lists each
// part's checksum in ListParts, which is how a resumed writer learns the
// checksums of parts another instance uploaded. Some S3-compatible stores
// (SeaweedFS) require the same at completion but omit the checksums from
// ListParts: a resumed upload could then never complete. On those, uploads
// are created without declaration; every part still carries its checksum,
// which the store verifies, but the object gets no composite checksum.
//
// The store's behaviour is probed once per driver, on the first multipart
// upload: an upload of one checksummed byte under ROOTDIRECTORY/_imagegate/
// is created, listed and aborted (it never becomes an object).
func (d *driver) declareChecksums(ctx context.Context) (bool, error) {
	if !d.cfg.Checksum.enabled() {
		return false, nil
	}
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	if d.probed {
		return d.declare, nil
	}
	declare, err := d.probeListedPartChecksums(ctx)
	if err != nil {
		return false, fmt.Errorf("s3 storage: probe multipart checksum support: %w", err)
	}
	d.probed, d.declare = true, declare
	return declare, nil
}

// probeListedPartChecksums reports whether ListParts returns the checksums
// of parts uploaded to a declared upload.
func (d *driver) probeListedPartChecksums(ctx context.Context) (bool, error) {
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	key := d.key("/_imagegate/probe-" + hex.EncodeToString(suffix))
	out, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(d.cfg.Bucket),
		Key:                  aws.String(key),
		ServerSideEncryption: d.sse.mode,
		SSEKMSKeyId:          d.sse.keyID,
		BucketKeyEnabled:     d.sse.bucketKey,
		ChecksumAlgorithm:    d.cfg.Checksum.sdk(),
	})
	if err != nil {
		return false, err
	}
	id := aws.ToString(out.UploadId)
	defer func() { _ = d.abortUpload(context.WithoutCancel(ctx), key, id) }()
	if _, err := d.uploadPart(ctx, key, id, 1, []byte{0}); err != nil {
		return false, err
	}
	parts, err := d.client.ListParts(ctx, &s3.ListPartsInput{
		Bucket:   aws.String(d.cfg.Bucket),
		Key:      aws.String(key),
		UploadId: aws.String(id),
	})
	if err != nil {
		return false, err
	}
	return len(parts.Parts) == 1 &&
		d.partChecksum(parts.Parts[0].ChecksumSHA256, parts.Parts[0].ChecksumCRC32C) == d.cfg.Checksum.sum([]byte{0}), nil
}
