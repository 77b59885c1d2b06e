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
// client of the server, the bucket's name and the endpoint.
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
	return client, bucket, endpoint
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
