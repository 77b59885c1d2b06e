package s3

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// bucketPermissions maps the S3 operations of PrepareBucket to the IAM
// action that allows them (docs/iam/bucket-init-policy.json lists them).
var bucketPermissions = map[string]string{
	"HeadBucket":                      "s3:ListBucket",
	"CreateBucket":                    "s3:CreateBucket",
	"GetBucketOwnershipControls":      "s3:GetBucketOwnershipControls",
	"PutBucketOwnershipControls":      "s3:PutBucketOwnershipControls",
	"GetPublicAccessBlock":            "s3:GetBucketPublicAccessBlock",
	"PutPublicAccessBlock":            "s3:PutBucketPublicAccessBlock",
	"GetBucketEncryption":             "s3:GetEncryptionConfiguration",
	"PutBucketEncryption":             "s3:PutEncryptionConfiguration",
	"GetBucketVersioning":             "s3:GetBucketVersioning",
	"PutBucketVersioning":             "s3:PutBucketVersioning",
	"GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
	"PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
	"GetBucketPolicy":                 "s3:GetBucketPolicy",
	"PutBucketPolicy":                 "s3:PutBucketPolicy",
}

// ErrPermission is wrapped by errors of requests that S3 refused with 403
// (AccessDenied); the message names the IAM action that was needed.
var ErrPermission = errors.New("permission denied")

// opError wraps the error of the S3 operation op: a 403 becomes
// ErrPermission naming the IAM action op needs, a 501 says that the store
// does not implement it.
func opError(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case hasCode(err, "AccessDenied", "AllAccessDisabled") || httpStatus(err) == http.StatusForbidden:
		return fmt.Errorf("%s: %w: needs %s (%v)", op, ErrPermission, bucketPermissions[op], err)
	case isNotImplemented(err):
		return fmt.Errorf("%s: the store does not implement it: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isNotImplemented reports a 501 (NotImplemented) answer.
func isNotImplemented(err error) bool {
	return hasCode(err, "NotImplemented") || httpStatus(err) == http.StatusNotImplemented
}

// httpStatus returns the HTTP status of an S3 answer (0 without one).
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
