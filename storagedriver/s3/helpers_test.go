package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	"github.com/imagegate/imagegate/internal/testutil/s3test"
)

// endpointEnv names the S3 endpoint the integration tests use; `make test`
// starts SeaweedFS (scripts/seaweedfs.sh) and sets it.
const endpointEnv = "IMAGEGATE_TEST_S3_ENDPOINT"

// Credentials of the SeaweedFS identity scripts/seaweedfs.sh configures.
const (
	testAccessKey = "AK"
	testSecretKey = "SK"
	testKMSKey    = "imagegate-test-key"
)

// testEndpoint returns the S3 endpoint, or skips the test when none is
// configured (fails instead under IMAGEGATE_TEST_REQUIRE_ALL=1).
func testEndpoint(tb testing.TB) string {
	tb.Helper()
	e := os.Getenv(endpointEnv)
	if e == "" {
		msg := endpointEnv + " is not set: `make test` starts SeaweedFS and provides it " +
			"(scripts/seaweedfs.sh start DIR prints it)"
		if os.Getenv("IMAGEGATE_TEST_REQUIRE_ALL") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return e
}

// adminClient returns a plain SDK client for endpoint, for setting up
// buckets and inspecting objects behind the driver's back.
func adminClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
	})
}

// newTestBucket creates a fresh bucket, emptied and deleted when the test
// ends, and returns its name.
func newTestBucket(tb testing.TB, endpoint string) string {
	tb.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(tb.Name()))
	bucket := "ig-" + name[:min(len(name), 40)] + "-" + hex.EncodeToString(suffix)
	bucket = strings.Trim(strings.ReplaceAll(bucket, "--", "-"), "-")
	c := adminClient(endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("create bucket %s: %v", bucket, err)
	}
	tb.Cleanup(func() { s3test.Delete(tb, c, bucket) })
	return bucket
}

// testParams returns the driver parameters for bucket at endpoint, as a
// registry configuration would pass them, overlaid with extra.
func testParams(endpoint, bucket string, extra map[string]any) map[string]any {
	p := map[string]any{
		"bucket":         bucket,
		"region":         "us-east-1",
		"regionendpoint": endpoint,
		"forcepathstyle": true,
		"accesskey":      testAccessKey,
		"secretkey":      testSecretKey,
		"chunksize":      MinChunkSize,
		"maxbackoff":     "2s",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// newTestDriver creates a driver through distribution's factory, as the
// registry does.
func newTestDriver(tb testing.TB, params map[string]any) storagedriver.StorageDriver {
	tb.Helper()
	d, err := factory.Create(context.Background(), DriverName, params)
	if err != nil {
		tb.Fatalf("create driver: %v", err)
	}
	return d
}

// inner returns the unexported driver behind a Driver.
func inner(tb testing.TB, sd storagedriver.StorageDriver) *driver {
	tb.Helper()
	d, ok := sd.(*Driver)
	if !ok {
		tb.Fatalf("driver is %T, not *Driver", sd)
	}
	return d.StorageDriver.(*driver)
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
