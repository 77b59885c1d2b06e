package s3

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestTailKeepsTheUpload writes chunks that leave small tails, each through
// a new writer of alternating driver instances: every resume continues the
// same multipart upload (no restart, no copy), the tails stay hidden from
// List and Walk, and Commit removes the last one.
func TestTailKeepsTheUpload(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	params := testParams(endpoint, bucket, map[string]any{"rootdirectory": "/root"})
	a, b := newTestDriver(t, params), newTestDriver(t, params)
	ctx := context.Background()
	const p = "/dir/upload/data"
	sizes := []int{1 << 20, MinChunkSize + 3, 2*MinChunkSize + 1<<20 + 5, 100, 0, 3 * MinChunkSize}
	var all []byte
	var uploadID string
	for i, n := range sizes {
		d := a
		if i%2 == 1 {
			d = b
		}
		fw, err := d.Writer(ctx, p, i > 0)
		if err != nil {
			t.Fatalf("chunk %d: Writer: %v", i, err)
		}
		w := fw.(*writer)
		if w.Size() != int64(len(all)) {
			t.Fatalf("chunk %d: resumed at %d, want %d", i, w.Size(), len(all))
		}
		if i > 0 && w.uploadID != uploadID {
			t.Errorf("chunk %d: upload %s, want the same upload %s", i, w.uploadID, uploadID)
		}
		uploadID = w.uploadID
		chunk := randomBytes(n)
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("chunk %d: Write: %v", i, err)
		}
		if w.restarted {
			t.Errorf("chunk %d: the writer restarted the upload", i)
		}
		all = append(all, chunk...)
		if i == len(sizes)-1 {
			if err := w.Commit(ctx); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("chunk %d: Close: %v", i, err)
		}
		if i == 0 {
			if files, err := a.List(ctx, "/"); err != nil || len(files) != 0 {
				t.Errorf("List(/) with a tail stored: %v %v, want nothing", files, err)
			}
		}
	}
	got, err := a.GetContent(ctx, p)
	if err != nil || !bytes.Equal(got, all) {
		t.Fatalf("content: %d bytes, %v; want %d bytes", len(got), err, len(all))
	}
	_, err = adminClient(endpoint).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket),
		Key: aws.String(inner(t, a).tailKey("root/dir/upload/data"))})
	if !isNotFound(err) {
		t.Errorf("tail after Commit: %v, want it deleted", err)
	}
}

// TestStaleTailIsIgnored: a tail written for other parts (a crash between
// the parts and the tail) is not prepended.
func TestStaleTailIsIgnored(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	d := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	fw, err := d.Writer(ctx, "/f", false)
	if err != nil {
		t.Fatal(err)
	}
	w := fw.(*writer)
	if err := w.putTail(ctx, []byte("stale")); err != nil {
		t.Fatal(err)
	}
	first := randomBytes(MinChunkSize)
	if _, err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // uploads a part: the tail no longer matches
		t.Fatal(err)
	}
	fw, err = d.Writer(ctx, "/f", true)
	if err != nil {
		t.Fatal(err)
	}
	if fw.Size() != MinChunkSize {
		t.Fatalf("resumed at %d, want %d (stale tail ignored)", fw.Size(), MinChunkSize)
	}
	if err := fw.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetContent(ctx, "/f")
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("content: %d bytes, %v", len(got), err)
	}
}

// TestUnusedWriterLeavesTheTail: two writers resume an upload whose last
// bytes are a tail; the second writes and closes (a new tail), then the
// first, given no bytes, is closed (a request refused before its body):
// the tail stays the second's, and the upload commits with its bytes.
func TestUnusedWriterLeavesTheTail(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	d := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	const p = "/upload/data"
	first, second := randomBytes(1000), randomBytes(1<<20)
	fw, err := d.Writer(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(first); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil { // the 1,000 bytes become the tail
		t.Fatal(err)
	}
	idle, err := d.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	busy, err := d.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := busy.Write(second); err != nil {
		t.Fatal(err)
	}
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}
	tailKey := inner(t, d).tailKey(inner(t, d).key(p))
	before, err := adminClient(endpoint).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tailKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := adminClient(endpoint).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tailKey)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.ETag) != aws.ToString(before.ETag) || aws.ToInt64(after.ContentLength) != int64(len(first)+len(second)) {
		t.Fatalf("closing an unused writer stored a tail of %d bytes (ETag %s, was %s); want the other writer's %d bytes untouched",
			aws.ToInt64(after.ContentLength), aws.ToString(after.ETag), aws.ToString(before.ETag), len(first)+len(second))
	}
	fw, err = d.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetContent(ctx, p)
	if err != nil || !bytes.Equal(got, append(first, second...)) {
		t.Fatalf("content: %d bytes, %v; want %d", len(got), err, len(first)+len(second))
	}
}

// TestLegacySmallLastPartRestarts resumes an upload left with a small last
// part (as Close made them before tail objects): the writer rebuilds it,
// with one whole-object copy (SSE-S3) or, where SeaweedFS cannot copy the
// source (SSE-KMS), part by part through the client.
func TestLegacySmallLastPartRestarts(t *testing.T) {
	endpoint := testEndpoint(t)
	for name, extra := range map[string]map[string]any{
		"sse-s3":  {"encrypt": true},
		"sse-kms": {"encrypt": true, "keyid": testKMSKey},
	} {
		t.Run(name, func(t *testing.T) {
			bucket := newTestBucket(t, endpoint)
			d := newTestDriver(t, testParams(endpoint, bucket, extra))
			ctx := context.Background()
			fw, err := d.Writer(ctx, "/legacy", false)
			if err != nil {
				t.Fatal(err)
			}
			first := randomBytes(MinChunkSize + 2<<20)
			if _, err := fw.Write(first); err != nil {
				t.Fatal(err)
			}
			w := fw.(*writer)
			if err := w.flush(); err != nil { // the old Close: the 2 MiB rest as part 2
				t.Fatal(err)
			}
			fw, err = d.Writer(ctx, "/legacy", true)
			if err != nil {
				t.Fatal(err)
			}
			w = fw.(*writer)
			if !w.needRestart || w.Size() != int64(len(first)) {
				t.Fatalf("resumed: needRestart %v, size %d", w.needRestart, w.Size())
			}
			second := randomBytes(3 << 20)
			if _, err := w.Write(second); err != nil {
				t.Fatal(err)
			}
			if !w.restarted {
				t.Error("the writer did not rebuild the upload")
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := d.GetContent(ctx, "/legacy")
			if err != nil || !bytes.Equal(got, append(first, second...)) {
				t.Fatalf("content: %d bytes, %v", len(got), err)
			}
		})
	}
}
