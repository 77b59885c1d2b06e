package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// TestPushPullOnS3 runs the registry on the S3 driver against SeaweedFS:
// push, pull byte for byte, and the record names the bucket and keys.
func TestPushPullOnS3(t *testing.T) {
	endpoint := liveserver.RequireEnv(t, "IMAGEGATE_TEST_S3_ENDPOINT", "an S3 server (make test starts SeaweedFS)")
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	bucket := "imagegate-registry-" + hex.EncodeToString(suffix)
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	s := startServer(t, func(c *config.Config) {
		c.Storage.Driver = "s3"
		s3 := &c.Storage.S3 // the defaults, then this server's
		s3.Bucket, s3.Region, s3.RegionEndpoint, s3.ForcePathStyle = bucket, "us-east-1", endpoint, true
		s3.RootDirectory, s3.ChunkSize = "/registry", 5<<20
		s3.AccessKey, s3.SecretKey = "AK", "SK"
	})
	img, _ := random.Image(6<<20, 2) // layers above one part: multipart
	ref, _ := name.ParseReference(s.host()+"/s3/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push on S3: %v", err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	assertSameLayers(t, img, pulled)

	rs := s.records(t, "s3/app")
	if len(rs) != 1 || rs[0].Storage.Driver != "s3" || rs[0].Storage.Bucket != bucket {
		t.Fatalf("record storage %+v", rs[0].Storage)
	}
	key := rs[0].Storage.ManifestKey
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("the record's manifest key %q is not in the bucket: %v", key, err)
	}
	if head.ServerSideEncryption == "" {
		t.Fatalf("manifest object stored unencrypted")
	}
}
