package s3

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// RedirectURL returns a presigned URL, valid for RedirectExpiry, that
// answers r (GET or HEAD) for the object at p directly from S3. It returns
// "" (serve through the registry) when redirect is off or for other
// methods. Presigning is local: it sends no request.
func (d *driver) RedirectURL(r *http.Request, p string) (string, error) {
	if !d.cfg.Redirect {
		return "", nil
	}
	expiry := func(o *s3.PresignOptions) { o.Expires = d.cfg.RedirectExpiry }
	bucket, key := aws.String(d.cfg.Bucket), aws.String(d.key(p))
	switch r.Method {
	case http.MethodGet:
		req, err := d.presign.PresignGetObject(r.Context(), &s3.GetObjectInput{Bucket: bucket, Key: key}, expiry)
		if err != nil {
			return "", err
		}
		return req.URL, nil
	case http.MethodHead:
		req, err := d.presign.PresignHeadObject(r.Context(), &s3.HeadObjectInput{Bucket: bucket, Key: key}, expiry)
		if err != nil {
			return "", err
		}
		return req.URL, nil
	}
	return "", nil
}
