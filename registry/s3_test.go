package registry

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
)

// TestPushPullOnS3 runs the registry on the S3 driver against SeaweedFS:
// push, pull byte for byte, and the record names the bucket and keys.
func TestPushPullOnS3(t *testing.T) {
	client, bucket, endpoint := s3test.Bucket(t, "imagegate-registry-")
	ctx := t.Context()
	s := startServer(t, func(c *config.Config) { s3test.Configure(c, endpoint, bucket) })
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
