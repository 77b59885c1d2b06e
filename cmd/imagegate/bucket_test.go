package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBucketInit runs `imagegate bucket init` against the SeaweedFS of
// IMAGEGATE_TEST_S3_ENDPOINT: the dry run changes nothing, the first run
// applies every setting, the second changes nothing.
func TestBucketInit(t *testing.T) {
	endpoint := os.Getenv("IMAGEGATE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("IMAGEGATE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("IMAGEGATE_TEST_S3_ENDPOINT is not set (scripts/seaweedfs.sh start DIR prints it)")
		}
		t.Skip("IMAGEGATE_TEST_S3_ENDPOINT is not set (scripts/seaweedfs.sh start DIR prints it)")
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	bucket := "ig-cmd-init-" + hex.EncodeToString(suffix)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	yaml := "singlenode: true\nstorage:\n  driver: s3\n  s3:\n    bucket: " + bucket + "\n    regionendpoint: " + endpoint +
		"\n    region: us-east-1\n    forcepathstyle: true\n    encrypt: true\n    keyid: imagegate-test-key\n    bucketkey: true\n" +
		"    accesskey: AK\n    secretkey: SK\n    lifecycle:\n      noncurrentdays: 14\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	bucketInit := func(extra ...string) string {
		t.Helper()
		var out bytes.Buffer
		args := append([]string{"bucket", "init", "--config", cfg}, extra...)
		if err := run(context.Background(), args, strings.NewReader(""), &out, &out, nil); err != nil {
			t.Fatalf("imagegate %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		t.Log(out.String())
		return out.String()
	}
	if out := bucketInit("--dry-run"); !strings.Contains(out, "missing → created") || !strings.Contains(out, "7 setting(s) would change") {
		t.Errorf("dry run on a missing bucket:\n%s", out)
	}
	if out := bucketInit("--dry-run"); !strings.Contains(out, "missing → created") {
		t.Errorf("the dry run created the bucket:\n%s", out)
	}
	if out := bucketInit(); !strings.Contains(out, "expire-noncurrent-after=14d") || strings.Contains(out, "FAILED") {
		t.Errorf("first run:\n%s", out)
	}
	if out := bucketInit(); !strings.Contains(out, "0 setting(s) changed") {
		t.Errorf("second run changed something:\n%s", out)
	}
	if out := bucketInit("--dry-run"); !strings.Contains(out, "0 setting(s) would change") {
		t.Errorf("dry run after init reports drift:\n%s", out)
	}
}

func TestBucketInitNeedsS3(t *testing.T) {
	_, err := runCLI(t, nil, "bucket", "init")
	if err == nil || !strings.Contains(err.Error(), "bucket preparation needs s3") {
		t.Errorf("bucket init with the filesystem driver: %v", err)
	}
	if _, err := runCLI(t, nil, "bucket", "create"); !errors.Is(err, errUsage) {
		t.Errorf("bucket create: %v, want a usage error", err)
	}
}
