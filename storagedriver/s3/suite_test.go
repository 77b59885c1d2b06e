package s3

import (
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/testsuites"
)

// TestDriverSuite runs distribution's storage driver suite in full against
// SeaweedFS: SSE-KMS, SHA-256 checksums, presigned redirects, a root
// directory, on a fresh bucket.
func TestDriverSuite(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	params := testParams(endpoint, bucket, map[string]any{
		"rootdirectory": "/registry",
		"encrypt":       true,
		"keyid":         testKMSKey,
		"checksum":      "sha256",
		"redirect":      "true",
	})
	testsuites.Driver(t, func() (storagedriver.StorageDriver, error) {
		return newTestDriver(t, params), nil
	}, false)
}

// TestDriverSuiteCRC32C runs the suite again with CRC32C checksums, SSE-S3
// (AES256), the bucket root as root directory and the default chunk size.
func TestDriverSuiteCRC32C(t *testing.T) {
	if testing.Short() {
		t.Skip("second full suite run skipped in short mode")
	}
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	params := testParams(endpoint, bucket, map[string]any{
		"encrypt":   "true",
		"checksum":  "crc32c",
		"chunksize": "10MiB",
	})
	testsuites.Driver(t, func() (storagedriver.StorageDriver, error) {
		return newTestDriver(t, params), nil
	}, false)
}
