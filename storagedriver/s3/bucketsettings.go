package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// exists reports whether the bucket exists (HeadBucket: 404 is missing).
func (b *bucketPrep) exists(ctx context.Context) (bool, error) {
	_, err := b.d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.bucket)})
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err) || hasCode(err, "NoSuchBucket") || httpStatus(err) == 404:
		return false, nil
	}
	return false, opError("HeadBucket", err)
}

// create creates the bucket in the configured region, owner-enforced.
func (b *bucketPrep) create(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(b.bucket), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}
	if r := b.d.cfg.Region; r != "" && r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	_, err := b.d.client.CreateBucket(ctx, in)
	if hasCode(err, "BucketAlreadyOwnedByYou") {
		return nil
	}
	return opError("CreateBucket", err)
}

// absent reports the "not configured" answers of the Get calls.
func absent(err error) bool {
	return hasCode(err, "OwnershipControlsNotFoundError", "NoSuchPublicAccessBlockConfiguration",
		"ServerSideEncryptionConfigurationNotFoundError", "NoSuchLifecycleConfiguration", "NoSuchBucketPolicy") ||
		(httpStatus(err) == 404 && !hasCode(err, "NoSuchBucket"))
}

func (b *bucketPrep) ownershipSetting() bucketSetting {
	want := string(types.ObjectOwnershipBucketOwnerEnforced)
	return bucketSetting{
		name: "ownership",
		want: want,
		read: func(ctx context.Context) (string, string, error) {
			out, err := b.d.client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String(b.bucket)})
			switch {
			case absent(err):
				return "none", want, nil
			case err != nil:
				return "", want, opError("GetBucketOwnershipControls", err)
			case out.OwnershipControls == nil || len(out.OwnershipControls.Rules) == 0:
				return "none", want, nil
			}
			return string(out.OwnershipControls.Rules[0].ObjectOwnership), want, nil
		},
		apply: func(ctx context.Context) error {
			_, err := b.d.client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{
				Bucket: aws.String(b.bucket),
				OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{
					{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}},
			})
			return opError("PutBucketOwnershipControls", err)
		},
	}
}

func (b *bucketPrep) publicAccessBlockSetting() bucketSetting {
	describe := func(c *types.PublicAccessBlockConfiguration) string {
		if c == nil {
			return "none"
		}
		return fmt.Sprintf("BlockPublicAcls=%t IgnorePublicAcls=%t BlockPublicPolicy=%t RestrictPublicBuckets=%t",
			aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.BlockPublicPolicy), aws.ToBool(c.RestrictPublicBuckets))
	}
	all := &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
		BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}
	return bucketSetting{
		name: "public-access-block",
		want: describe(all),
		read: func(ctx context.Context) (string, string, error) {
			out, err := b.d.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(b.bucket)})
			switch {
			case absent(err):
				return "none", describe(all), nil
			case err != nil:
				return "", describe(all), opError("GetPublicAccessBlock", err)
			}
			return describe(out.PublicAccessBlockConfiguration), describe(all), nil
		},
		apply: func(ctx context.Context) error {
			_, err := b.d.client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: aws.String(b.bucket), PublicAccessBlockConfiguration: all})
			return opError("PutPublicAccessBlock", err)
		},
	}
}

// defaultEncryption is the bucket's desired default encryption: SSE-KMS
// with keyid (and the bucket key when bucketkey) when keyid is set, else
// AES256.
func (b *bucketPrep) defaultEncryption() types.ServerSideEncryptionRule {
	c := b.d.cfg
	if c.KeyID == "" {
		return types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
			SSEAlgorithm: types.ServerSideEncryptionAes256}}
	}
	return types.ServerSideEncryptionRule{
		ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
			SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(c.KeyID)},
		BucketKeyEnabled: aws.Bool(c.BucketKey),
	}
}

func describeEncryption(r types.ServerSideEncryptionRule) string {
	d := r.ApplyServerSideEncryptionByDefault
	if d == nil {
		return "none"
	}
	if d.SSEAlgorithm != types.ServerSideEncryptionAwsKms {
		return string(d.SSEAlgorithm)
	}
	return fmt.Sprintf("%s key=%s bucketkey=%t", d.SSEAlgorithm, aws.ToString(d.KMSMasterKeyID), aws.ToBool(r.BucketKeyEnabled))
}

func (b *bucketPrep) encryptionSetting() bucketSetting {
	want := b.defaultEncryption()
	return bucketSetting{
		name: "encryption",
		want: describeEncryption(want),
		read: func(ctx context.Context) (string, string, error) {
			out, err := b.d.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(b.bucket)})
			switch {
			case absent(err):
				return "none", describeEncryption(want), nil
			case err != nil:
				return "", describeEncryption(want), opError("GetBucketEncryption", err)
			case out.ServerSideEncryptionConfiguration == nil || len(out.ServerSideEncryptionConfiguration.Rules) == 0:
				return "none", describeEncryption(want), nil
			}
			return describeEncryption(out.ServerSideEncryptionConfiguration.Rules[0]), describeEncryption(want), nil
		},
		apply: func(ctx context.Context) error {
			_, err := b.d.client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket:                            aws.String(b.bucket),
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{want}},
			})
			return opError("PutBucketEncryption", err)
		},
	}
}

func (b *bucketPrep) versioningSetting() bucketSetting {
	want := string(types.BucketVersioningStatusEnabled)
	return bucketSetting{
		name: "versioning",
		want: want,
		read: func(ctx context.Context) (string, string, error) {
			out, err := b.d.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b.bucket)})
			if err != nil {
				return "", want, opError("GetBucketVersioning", err)
			}
			if out.Status == "" {
				return "none", want, nil
			}
			return string(out.Status), want, nil
		},
		apply: func(ctx context.Context) error {
			_, err := b.d.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  aws.String(b.bucket),
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
			})
			return opError("PutBucketVersioning", err)
		},
	}
}
