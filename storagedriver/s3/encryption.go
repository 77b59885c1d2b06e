package s3

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// encryption holds the server-side encryption fields set on every request
// that creates an object: PutObject, CreateMultipartUpload (the parts
// inherit it) and CopyObject.
type encryption struct {
	mode      types.ServerSideEncryption
	keyID     *string
	bucketKey *bool
}

// newEncryption maps encrypt/keyid/bucketkey: SSE-KMS with the key when
// keyid is set, SSE-S3 (AES256) otherwise, nothing when encrypt is false.
func newEncryption(c Config) encryption {
	switch {
	case !c.Encrypt:
		return encryption{}
	case c.KeyID == "":
		return encryption{mode: types.ServerSideEncryptionAes256}
	}
	e := encryption{mode: types.ServerSideEncryptionAwsKms, keyID: aws.String(c.KeyID)}
	if c.BucketKey {
		e.bucketKey = aws.Bool(true)
	}
	return e
}

// storageClass returns the class to set on new objects ("" omits it).
func (d *driver) storageClass() types.StorageClass {
	if d.cfg.StorageClass == noStorageClass {
		return ""
	}
	return types.StorageClass(d.cfg.StorageClass)
}

const contentType = "application/octet-stream"
