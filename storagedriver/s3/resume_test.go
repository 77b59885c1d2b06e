package s3

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// TestResumeAcrossInstances writes one upload from two driver instances
// (two replicas behind a load balancer), the way distribution's chunked
// PATCHes arrive: each chunk opens Writer(append), writes, and closes.
// Chunks leave last parts both above and below S3's 5 MiB minimum, so the
// writer continues the upload as is or rebuilds it (restart).
func TestResumeAcrossInstances(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	params := testParams(endpoint, bucket, nil)
	a, b := newTestDriver(t, params), newTestDriver(t, params)
	ctx := context.Background()
	const p = "/uploads/resume/data"

	chunks := [][]byte{
		randomBytes(7 << 20),   // parts (MiB): 5, 2 (a small last part)
		randomBytes(3 << 20),   // restart: 5 copied, 2 read back + 3 → 5, 5
		randomBytes(6<<20 + 1), // 5, 5, 5, 1+1 byte
		nil,                    // an empty PATCH
		randomBytes(1 << 20),   // restart: 5, 5, 5 copied, 1+1 byte + 1 → 2+1 byte
	}
	var all []byte
	for i, chunk := range chunks {
		d := []storagedriver.StorageDriver{a, b}[i%2]
		w, err := d.Writer(ctx, p, i > 0)
		if err != nil {
			t.Fatalf("chunk %d: Writer: %v", i, err)
		}
		if w.Size() != int64(len(all)) {
			t.Fatalf("chunk %d: resumed at %d, want %d", i, w.Size(), len(all))
		}
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("chunk %d: Write: %v", i, err)
		}
		all = append(all, chunk...)
		if err := w.Close(); err != nil {
			t.Fatalf("chunk %d: Close: %v", i, err)
		}
		if w.Size() != int64(len(all)) {
			t.Fatalf("chunk %d: Size after Close = %d, want %d", i, w.Size(), len(all))
		}
	}
	// Commit from the first instance without writing more.
	w, err := a.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetContent(ctx, p)
	if err != nil || !bytes.Equal(got, all) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(all))
	}
	// No upload is left behind.
	out, err := adminClient(endpoint).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("%d multipart uploads left", len(out.Uploads))
	}
}

// TestResumeRefusals covers Writer(append) without an upload in progress.
func TestResumeRefusals(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	d := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	if _, err := d.Writer(ctx, "/missing", true); !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Errorf("append to a missing path: %v, want PathNotFoundError", err)
	}
	if err := d.PutContent(ctx, "/full", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Writer(ctx, "/full", true); err == nil {
		t.Error("append to a committed non-empty object succeeded")
	}
}

// TestWriterCancel aborts an upload with parts, after a restart too.
func TestWriterCancel(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	d := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	w, err := d.Writer(ctx, "/c", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(6 << 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = d.Writer(ctx, "/c", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(100)); err != nil { // restarts: the object exists meanwhile
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if _, err := d.Stat(ctx, "/c"); !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Errorf("Stat after Cancel: %v, want PathNotFoundError", err)
	}
	if _, err := d.Writer(ctx, "/c", true); !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Errorf("resume after Cancel: %v, want PathNotFoundError", err)
	}
}

// TestWriterContextCancel: cancelling the Writer's context stops its
// uploads promptly.
func TestWriterContextCancel(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	d := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx, cancel := context.WithCancel(context.Background())
	w, err := d.Writer(ctx, "/cancelled", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(10 << 20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	_, werr := w.Write(randomBytes(30 << 20))
	cerr := w.Close()
	if werr == nil && cerr == nil {
		t.Error("writing after the context was cancelled succeeded")
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %s to notice the cancellation", el)
	}
	if _, err := d.GetContent(context.Background(), "/cancelled"); !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Errorf("GetContent: %v, want PathNotFoundError", err)
	}
}
