package remote_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/remote/remotetest"
	"github.com/imagegate/imagegate/scan/scantest"
)

func TestContractWithFake(t *testing.T) {
	ns := remotetest.Storage(t)
	remotetest.AddContractImages(t, ns)
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: &scantest.Fake{}})
	scantest.Contract(t, remotetest.Client(t, remote.ClientOptions{}, url))
}

// TestScannerReadsStorage: the registry side sends no layer; the scanner
// opens them from storage, and only from the named repository.
func TestScannerReadsStorage(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	c := remotetest.Client(t, remote.ClientOptions{}, remotetest.Serve(t, ns, remote.ServerOptions{Scanner: &scantest.Fake{}}))

	r, err := c.Scan(t.Context(), scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t)))
	if err != nil {
		t.Fatal(err)
	}
	scantest.CheckFindings(t, r, scantest.VulnerableFindings(), scantest.LayerDigests(t, img)[0])

	// The same image named in a repository its blobs are not linked to.
	_, err = c.Scan(t.Context(), scantest.NewTarget(t, "other/app", img, remotetest.NoOpen(t)))
	if err == nil || !strings.Contains(err.Error(), "unknown blob") {
		t.Fatalf("scan of blobs not linked to the repository: err = %v, want unknown blob", err)
	}
}

// TestBusyFailsFast: a scanner with one worker and no queue refuses a
// second scan at once, and the client fails with scan.ErrBusy long before
// its timeout.
func TestBusyFailsFast(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	blocking := newBlockingScanner()
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: blocking, Workers: 1, Queue: 0})
	c := remotetest.Client(t, remote.ClientOptions{Timeout: time.Minute}, url)
	target := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))

	first := make(chan error, 1)
	go func() {
		_, err := c.Scan(t.Context(), target)
		first <- err
	}()
	<-blocking.started
	start := time.Now()
	_, err := c.Scan(t.Context(), target)
	if !errors.Is(err, scan.ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second scan: err = %v, want scan.ErrBusy without a timeout", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the busy answer took %s", took)
	}
	close(blocking.release)
	if err := <-first; err != nil {
		t.Fatalf("first scan: %v", err)
	}
}

// TestQueueWaitsForAWorker: a queued scan runs when the worker frees up;
// the scanner's /metrics shows the queue meanwhile and counts the scans
// after (metricsWhileQueued, metricsAfterQueue in metrics_test.go).
func TestQueueWaitsForAWorker(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	blocking := newBlockingScanner()
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: blocking, Workers: 1, Queue: 1, QueueWait: time.Minute})
	c := remotetest.Client(t, remote.ClientOptions{}, url)
	target := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))

	errs := make(chan error, 2)
	go func() { _, err := c.Scan(t.Context(), target); errs <- err }()
	<-blocking.started
	go func() { _, err := c.Scan(t.Context(), target); errs <- err }()
	waitFor(t, func() bool { return status(t, url).Queued == 1 })
	wantMetrics(t, url, metricsWhileQueued)
	// Worker busy, queue full: a third is refused.
	if _, err := c.Scan(t.Context(), target); !errors.Is(err, scan.ErrBusy) {
		t.Fatalf("third scan: err = %v, want scan.ErrBusy", err)
	}
	close(blocking.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wantMetrics(t, url, metricsAfterQueue)
}

// TestBusyScannerSkipped: with two scanners, a busy one is skipped.
func TestBusyScannerSkipped(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	blocking := newBlockingScanner()
	busy := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: blocking, Workers: 1})
	free := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: &scantest.Fake{}})
	target := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))

	go func() { _, _ = remotetest.Client(t, remote.ClientOptions{}, busy).Scan(t.Context(), target) }()
	<-blocking.started
	defer close(blocking.release)
	c := remotetest.Client(t, remote.ClientOptions{}, busy, free)
	for range 2 { // each URL first once (round robin)
		if _, err := c.Scan(t.Context(), target); err != nil {
			t.Fatalf("scan with a free scanner in the pool: %v", err)
		}
	}
}

// TestUnreachableScannerSkipped: a scanner that refuses connections is
// skipped; with none left, the scan fails fast with scan.ErrBusy.
func TestUnreachableScannerSkipped(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	up := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: &scantest.Fake{}})
	target := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))

	c := remotetest.Client(t, remote.ClientOptions{}, dead, up)
	for range 2 {
		if _, err := c.Scan(t.Context(), target); err != nil {
			t.Fatalf("scan with one scanner down: %v", err)
		}
	}
	_, err = remotetest.Client(t, remote.ClientOptions{}, dead).Scan(t.Context(), target)
	if !errors.Is(err, scan.ErrBusy) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("scan with every scanner down: err = %v, want scan.ErrBusy naming the unreachable scanner", err)
	}
}

func TestWrongSecretRefused(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	fake := &scantest.Fake{}
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: fake})
	c := remotetest.Client(t, remote.ClientOptions{Secret: strings.Repeat("x", remote.MinSecretBytes)}, url)
	_, err := c.Scan(t.Context(), scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t)))
	if err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("scan with the wrong secret: err = %v", err)
	}
	if st := c.Status(t.Context()); st.Ready {
		t.Errorf("Status with the wrong secret = %+v, want not ready", st)
	}
	if fake.Scans() != 0 {
		t.Errorf("the scanner ran %d scans for a client without the secret", fake.Scans())
	}
}

func TestStatus(t *testing.T) {
	ns := remotetest.Storage(t)
	ready := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: &scantest.Fake{}})
	noDB := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: &scantest.Fake{NotReady: true}})

	st := remotetest.Client(t, remote.ClientOptions{}, noDB, ready).Status(t.Context())
	if !st.Ready || st.DBVersion != "fake" {
		t.Errorf("Status of a pool with one ready scanner = %+v, want ready, DB fake", st)
	}
	st = remotetest.Client(t, remote.ClientOptions{}, noDB).Status(t.Context())
	if st.Ready || !errors.Is(st.Err(), scan.ErrNoDB) || !strings.Contains(st.Error, "NotReady") {
		t.Errorf("Status of a pool without DB = %+v, want not ready with the scanner's reason", st)
	}
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	_, err := remotetest.Client(t, remote.ClientOptions{}, noDB).Scan(t.Context(), scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t)))
	if !errors.Is(err, scan.ErrNoDB) {
		t.Errorf("scan on a pool without DB: err = %v, want scan.ErrNoDB", err)
	}
}

// TestResponseBounded: an answer over MaxResponseBytes is an error, not
// read to the end. The server is a fake: a real scanner does not answer
// gigabytes.
func TestResponseBounded(t *testing.T) {
	fakeScanner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"scanner":"` + strings.Repeat("x", 4096) + `"}`))
	}))
	defer fakeScanner.Close()
	img := scantest.VulnerableImage(t)
	c := remotetest.Client(t, remote.ClientOptions{MaxResponseBytes: 1024}, fakeScanner.URL)
	_, err := c.Scan(t.Context(), scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t)))
	if err == nil || !strings.Contains(err.Error(), "over 1024 bytes") {
		t.Fatalf("scan with an oversized answer: err = %v", err)
	}
}

func TestClientScanAfterClose(t *testing.T) {
	c := remotetest.Client(t, remote.ClientOptions{}, "http://127.0.0.1:1")
	_ = c.Close()
	if _, err := c.Scan(t.Context(), scan.Target{}); !errors.Is(err, scan.ErrClosed) {
		t.Fatalf("Scan after Close: err = %v", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	_, err := remote.NewClient(remote.ClientOptions{URLs: []string{"ftp://x", "http://"}, Secret: "short"})
	for _, want := range []string{`"ftp://x"`, `"http://"`, "Secret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient: err = %v, want it to name %s", err, want)
		}
	}
	_, err = remote.NewServer(remote.ServerOptions{Secret: "short", Queue: -1})
	for _, want := range []string{"Scanner", "Blobs", "Secret", "Queue -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewServer: err = %v, want it to name %s", err, want)
		}
	}
}
