// Package s3test gives tests a fresh bucket on the S3 test server (the
// SeaweedFS `make test` starts) and points a configuration at it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// The test server's region and static identity (scripts/seaweedfs.sh).
const (
	Region    = "us-east-1"
	AccessKey = "AK"
	SecretKey = "SK"
)

// Bucket requires IMAGEGATE_TEST_S3_ENDPOINT (see liveserver.RequireEnv),
// creates a bucket named prefix plus a random suffix there, and returns a
// client of the server, the bucket's name and the endpoint. The bucket is
// emptied and deleted when t ends (Delete), after whatever t started
// later (a server on it) has stopped.
func Bucket(t testing.TB, prefix string) (client *s3.Client, bucket, endpoint string) {
	t.Helper()
	endpoint = liveserver.RequireEnv(t, "IMAGEGATE_TEST_S3_ENDPOINT", "an S3 server (make test starts SeaweedFS; scripts/seaweedfs.sh)")
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	bucket = prefix + hex.EncodeToString(suffix)
	client = s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), Region: Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("creating bucket %s on %s: %v", bucket, endpoint, err)
	}
	t.Cleanup(func() { Delete(t, client, bucket) })
	return client, bucket, endpoint
}

// Delete empties bucket (its objects and unfinished multipart uploads)
// and deletes it, logging what fails: a test's cleanup. It matters:
// SeaweedFS gives every bucket volumes of its own out of a number fixed
// by the disk's free space (47 with 51 GB free), so buckets left behind
// make the writes of the tests that come later fail with 500 "no free
// volumes left" — depending on which packages happen to run before and
// on the size of the disk.
func Delete(tb testing.TB, client *s3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	uploads := s3.NewListMultipartUploadsPaginator(client, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for uploads.HasMorePages() {
		page, err := uploads.NextPage(ctx)
		if err != nil {
			tb.Logf("deleting bucket %s: listing uploads: %v", bucket, err)
			break
		}
		for _, u := range page.Uploads {
			_, _ = client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	objects := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for objects.HasMorePages() {
		page, err := objects.NextPage(ctx)
		if err != nil {
			tb.Logf("deleting bucket %s: listing objects: %v", bucket, err)
			break
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		if _, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			tb.Logf("deleting bucket %s: deleting objects: %v", bucket, err)
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Logf("deleting bucket %s: %v", bucket, err)
	}
}

// Configure switches c to S3 storage in bucket on endpoint, over the
// default S3 settings: path-style addressing, the test identity, root
// directory /registry and 5 MiB parts (so that small images go multipart).
// The server is declared the bucket's only replica (singlenode), so that
// it may keep its defaults: bbolt metadata, a per-process secret and key.
func Configure(c *config.Config, endpoint, bucket string) {
	c.SingleNode = true
	c.Storage.Driver = "s3"
	s := &c.Storage.S3
	s.Bucket, s.Region, s.RegionEndpoint, s.ForcePathStyle = bucket, Region, endpoint, true
	s.RootDirectory, s.ChunkSize = "/registry", 5<<20
	s.AccessKey, s.SecretKey = AccessKey, SecretKey
}
