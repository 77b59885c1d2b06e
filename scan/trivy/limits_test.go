package trivy_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
)

// promptly is how soon a scan must give up after its context ends.
const promptly = 5 * time.Second

// blockingOpener returns an opener that signals entered and then blocks
// until release is closed (ignoring its context when ignoreCtx).
func blockingOpener(entered chan<- struct{}, release <-chan struct{}, ignoreCtx bool,
	blobs *scantest.Blobs) func(context.Context, digest.Digest) (io.ReadCloser, error) {
	return func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		if ignoreCtx {
			<-release
		} else {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return blobs.Open(context.WithoutCancel(ctx), d)
	}
}

// mustScan scans target and fails t on error.
func mustScan(t testing.TB, s scan.Scanner, target scan.Target) *scan.Report {
	t.Helper()
	r, err := s.Scan(t.Context(), target)
	if err != nil {
		t.Fatalf("Scan(%s): %v", target.Digest, err)
	}
	return r
}

func TestTimeout(t *testing.T) {
	s := openFixture(t, trivy.Options{Timeout: 200 * time.Millisecond})
	blobs := scantest.NewBlobs()
	blobs.Add(t, scantest.VulnerableImage(t))
	release := make(chan struct{})
	defer close(release)
	target := scantest.NewTarget(t, "team/slow", scantest.VulnerableImage(t),
		blockingOpener(make(chan struct{}, 1), release, false, blobs))

	start := time.Now()
	_, err := s.Scan(t.Context(), target)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > promptly {
		t.Errorf("Scan took %s after a 200ms timeout", took)
	}
}

// TestCancelWithStuckOpener shows that Scan returns as soon as its context
// is cancelled even when the blob opener ignores the context, and that the
// abandoned analysis finishes (and Close returns) once the opener does.
func TestCancelWithStuckOpener(t *testing.T) {
	s := openFixture(t, trivy.Options{})
	blobs := scantest.NewBlobs()
	blobs.Add(t, scantest.VulnerableImage(t))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	target := scantest.NewTarget(t, "team/stuck", scantest.VulnerableImage(t),
		blockingOpener(entered, release, true, blobs))

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Scan(ctx, target)
		errc <- err
	}()
	<-entered
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want one wrapping context.Canceled", err)
		}
	case <-time.After(promptly):
		t.Fatal("Scan did not return after its context was cancelled")
	}
	close(release)
	// Close waits for the abandoned analysis: it must end now.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerPool shows that scans beyond MaxConcurrent wait for a worker
// and give up with ErrBusy when their context ends first.
func TestWorkerPool(t *testing.T) {
	s := openFixture(t, trivy.Options{MaxConcurrent: 1})
	blobs := scantest.NewBlobs()
	blobs.Add(t, scantest.VulnerableImage(t))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	first := scantest.NewTarget(t, "team/first", scantest.VulnerableImage(t),
		blockingOpener(entered, release, false, blobs))
	errc := make(chan error, 1)
	go func() {
		_, err := s.Scan(t.Context(), first)
		errc <- err
	}()
	<-entered // the only worker is busy

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Scan(ctx, blobs.Target(t, "team/second", scantest.CleanImage(t)))
	if !errors.Is(err, scan.ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second scan: err = %v, want ErrBusy and DeadlineExceeded", err)
	}

	close(release)
	if err := <-errc; err != nil {
		t.Errorf("first scan: %v", err)
	}
	mustScan(t, s, blobs.Target(t, "team/third", scantest.CleanImage(t)))
}

func TestScanAfterClose(t *testing.T) {
	s := openFixture(t, trivy.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Scan(t.Context(), scantest.NewBlobs().Target(t, "team/app", scantest.CleanImage(t)))
	if !errors.Is(err, scan.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}
