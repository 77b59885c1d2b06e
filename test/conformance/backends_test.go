package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment naming the servers of the S3 + DynamoDB backend.
const (
	envS3       = "IMAGEGATE_TEST_S3_ENDPOINT"       // SeaweedFS: bash scripts/seaweedfs.sh start DIR
	envDynamoDB = "IMAGEGATE_TEST_DYNAMODB_ENDPOINT" // DynamoDB Local: bash scripts/dynamodb-local.sh start DIR
)

// backend is a storage configuration a run starts imagegate on: YAML to
// merge into the configuration file (empty for the embedded default) and
// environment for the process.
type backend struct {
	name  string
	setup func(t *testing.T) (configYAML string, env []string)
}

// embedded is the zero-configuration default: filesystem storage and a
// bbolt metadata file, both in the server's temporary directory.
var embedded = backend{name: "embedded", setup: func(*testing.T) (string, []string) { return "", nil }}

// s3DynamoDB is the production configuration: S3 storage (SeaweedFS) and
// DynamoDB metadata (DynamoDB Local), with a new bucket and table for every
// run. Without both endpoints the run is skipped — or fails under
// IMAGEGATE_TEST_REQUIRE_ALL=1.
var s3DynamoDB = backend{name: "s3-dynamodb", setup: func(t *testing.T) (string, []string) {
	s3Endpoint := liveserver.RequireEnv(t, envS3, "an S3 server (bash scripts/seaweedfs.sh start DIR)")
	ddbEndpoint := liveserver.RequireEnv(t, envDynamoDB, "DynamoDB Local (bash scripts/dynamodb-local.sh start DIR, inside scripts/in-netns.sh)")
	suffix := randomSuffix(t)
	bucket, table := "imagegate-conformance-"+suffix, "imagegate-conformance-"+suffix
	createBucket(t, s3Endpoint, bucket)
	// One process: singlenode lets it keep a per-process secret and key.
	yaml := fmt.Sprintf(`singlenode: true
storage:
  driver: s3
  s3:
    bucket: %q
    region: us-east-1
    regionendpoint: %q
    forcepathstyle: true
    rootdirectory: /registry
    accesskey: AK
    secretkey: SK
metadata:
  driver: dynamodb
  outbox: %q
  dynamodb:
    table: %q
    region: us-east-1
    endpoint: %q
    createtable: true
`, bucket, s3Endpoint, filepath.Join(t.TempDir(), "outbox.db"), table, ddbEndpoint)
	// DynamoDB Local accepts any credentials; the SDK needs some.
	return yaml, []string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1"}
}}

// createBucket creates bucket on the S3 server at endpoint.
func createBucket(t *testing.T, endpoint, bucket string) {
	t.Helper()
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""),
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s on %s: %v", bucket, endpoint, err)
	}
	// SeaweedFS grows the volumes of a new bucket in the background; until
	// then writes fail with 500 "volume N not found". Wait (bounded) until
	// the bucket takes a write.
	var err error
	for {
		_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe"),
			Body: strings.NewReader("probe")})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("bucket %s on %s takes no write: %v", bucket, endpoint, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("probe")}); err != nil {
		t.Fatalf("delete probe object in %s: %v", bucket, err)
	}
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
