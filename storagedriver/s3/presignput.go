package s3

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// PresignPut returns a URL through which a client may PUT the object at p,
// of exactly size bytes (Content-Length is signed), directly into the
// bucket until expiry, and the headers it must send with it (server-side
// encryption and storage class, signed into the URL), so that the object
// is encrypted like every other. Presigning is local: it
// sends no request. The tarball upload shim uses it for direct uploads.
func (d *Driver) PresignPut(ctx context.Context, p string, size int64, expiry time.Duration) (string, http.Header, error) {
	inner, ok := d.StorageDriver.(*driver)
	if !ok {
		return "", nil, fmt.Errorf("s3: presign: unexpected driver %T", d.StorageDriver)
	}
	if !storagedriver.PathRegexp.MatchString(p) {
		return "", nil, storagedriver.InvalidPathError{Path: p, DriverName: DriverName}
	}
	in := &s3.PutObjectInput{
		Bucket:               aws.String(inner.cfg.Bucket),
		Key:                  aws.String(inner.key(p)),
		ContentType:          aws.String(contentType),
		ContentLength:        aws.Int64(size),
		ServerSideEncryption: inner.sse.mode,
		SSEKMSKeyId:          inner.sse.keyID,
		BucketKeyEnabled:     inner.sse.bucketKey,
		StorageClass:         inner.storageClass(),
	}
	req, err := inner.presign.PresignPutObject(ctx, in, func(o *s3.PresignOptions) { o.Expires = expiry })
	if err != nil {
		return "", nil, fmt.Errorf("s3: presigning a PUT of %s: %w", p, err)
	}
	h := http.Header{}
	for k, vs := range req.SignedHeader {
		if http.CanonicalHeaderKey(k) == "Host" {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return req.URL, h, nil
}
