package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// writeStream writes content through a Writer of sd at p and commits it.
func writeStream(ctx context.Context, sd storagedriver.StorageDriver, p string, content []byte) error {
	w, err := sd.Writer(ctx, p, false)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, bytes.NewReader(content)); err != nil {
		_ = w.Cancel(ctx)
		return err
	}
	if err := w.Commit(ctx); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// probe makes sd run its one-time multipart probe (declareChecksums) now,
// before a test injects faults into the uploads it means to test.
func probe(t *testing.T, sd storagedriver.StorageDriver) {
	t.Helper()
	w, err := sd.Writer(context.Background(), "/probe", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// assertNotStored fails unless p does not exist (according to direct).
func assertNotStored(t *testing.T, direct storagedriver.StorageDriver, p string) {
	t.Helper()
	_, err := direct.Stat(context.Background(), p)
	if !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Errorf("%s: Stat = %v, want PathNotFoundError: a corrupted write must not be stored", p, err)
	}
}

// TestChecksumCorruptedBodyIsRetried flips a byte of two upload bodies on
// their way to S3: S3 rejects them (BadDigest) on the checksum the driver
// sent, the driver sends them again, and what is stored is what was written.
func TestChecksumCorruptedBodyIsRetried(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	for _, algo := range []string{"sha256", "crc32c"} {
		t.Run(algo, func(t *testing.T) {
			proxy := newFaultProxy(t, endpoint)
			viaProxy := newTestDriver(t, testParams(proxy.URL(), bucket, map[string]any{"checksum": algo}))
			direct := newTestDriver(t, testParams(endpoint, bucket, nil))
			ctx := context.Background()
			probe(t, viaProxy)

			proxy.set(func(p *faultProxy) { p.corruptBodies = 2 })
			content := randomBytes(12 << 20) // parts of 5, 5 and 2 MiB
			if err := writeStream(ctx, viaProxy, "/"+algo+"/stream", content); err != nil {
				t.Fatalf("write: %v", err)
			}
			small := randomBytes(1000)
			proxy.set(func(p *faultProxy) { p.corruptBodies = 1 })
			if err := viaProxy.PutContent(ctx, "/"+algo+"/small", small); err != nil {
				t.Fatalf("PutContent: %v", err)
			}
			for p, want := range map[string][]byte{"/" + algo + "/stream": content, "/" + algo + "/small": small} {
				got, err := direct.GetContent(ctx, p)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: read back %d bytes (err %v), want the %d bytes written", p, len(got), err, len(want))
				}
			}
			if n := proxy.count("corrupted body"); n != 3 {
				t.Errorf("corrupted %d bodies, want 3", n)
			}
			if n := proxy.count("S3 BadDigest"); n != 3 {
				t.Errorf("S3 answered BadDigest %d times, want 3 (counts %v)", n, proxy.counts)
			}
		})
	}
}

// TestChecksumCorruptedBodyIsNeverStored corrupts every upload body: every
// attempt is rejected, the write fails, and nothing is stored.
func TestChecksumCorruptedBodyIsNeverStored(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	proxy := newFaultProxy(t, endpoint)
	viaProxy := newTestDriver(t, testParams(proxy.URL(), bucket, map[string]any{"maxattempts": 3}))
	direct := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	probe(t, viaProxy)
	proxy.set(func(p *faultProxy) { p.corruptBodies = 1 << 30 })

	if err := viaProxy.PutContent(ctx, "/small", randomBytes(1000)); err == nil {
		t.Error("PutContent of a corrupted body succeeded")
	}
	if err := writeStream(ctx, viaProxy, "/stream", randomBytes(7<<20)); err == nil {
		t.Error("writing corrupted parts succeeded")
	}
	assertNotStored(t, direct, "/small")
	assertNotStored(t, direct, "/stream")
	if n := proxy.count("S3 BadDigest"); n < 6 {
		t.Errorf("S3 answered BadDigest %d times, want ≥ 6 (3 attempts of 2 uploads)", n)
	}
}

// TestChecksumCorruptionUndetectedWithoutChecksum is the control experiment
// of the two tests above: with checksums off and unsigned payloads (as over
// TLS), the corrupted byte reaches the store unnoticed. It proves that the
// proxy's corruption is real and that the checksum is what catches it.
func TestChecksumCorruptionUndetectedWithoutChecksum(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	proxy := newFaultProxy(t, endpoint)
	c, err := FromParameters(testParams(proxy.URL(), bucket, map[string]any{"checksum": "off"}))
	if err != nil {
		t.Fatal(err)
	}
	c.unsignedPayloadAlways = true
	viaProxy, err := New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	direct := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	proxy.set(func(p *faultProxy) { p.corruptBodies = 1 })
	content := randomBytes(1000)
	if err := viaProxy.PutContent(ctx, "/small", content); err != nil {
		t.Fatalf("PutContent: %v", err)
	}
	got, err := direct.GetContent(ctx, "/small")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, content) {
		t.Error("the corrupted byte did not reach the store: the proxy's corruption is not effective")
	}
}

// TestChecksumReportedMismatch makes S3 appear to report another checksum
// than the one sent: the driver retries, then fails, and the writer deletes
// nothing it did not verify.
func TestChecksumReportedMismatch(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	proxy := newFaultProxy(t, endpoint)
	viaProxy := newTestDriver(t, testParams(proxy.URL(), bucket, map[string]any{"maxattempts": 2}))
	direct := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx := context.Background()
	probe(t, viaProxy)
	proxy.set(func(p *faultProxy) { p.corruptReportedChecksums = true })

	err := viaProxy.PutContent(ctx, "/small", randomBytes(1000))
	if !isMismatch(err) {
		t.Errorf("PutContent = %v, want ErrChecksumMismatch", err)
	}
	err = writeStream(ctx, viaProxy, "/stream", randomBytes(6<<20))
	if !isMismatch(err) {
		t.Errorf("stream write = %v, want ErrChecksumMismatch", err)
	}
	assertNotStored(t, direct, "/stream")
	if n := proxy.count("corrupted reported checksum"); n < 4 {
		t.Errorf("corrupted %d reported checksums, want ≥ 4 (2 attempts of 2 uploads)", n)
	}
}

// isMismatch reports ErrChecksumMismatch, also inside the
// storagedriver.Error that base.Base wraps driver errors in (it has no
// Unwrap).
func isMismatch(err error) bool {
	var de storagedriver.Error
	if errors.As(err, &de) {
		err = de.Detail
	}
	return errors.Is(err, ErrChecksumMismatch)
}
