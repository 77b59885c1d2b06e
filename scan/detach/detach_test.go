package detach_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/detach"
	"github.com/imagegate/imagegate/scan/scantest"
)

// gatedScanner is a fake for slow and failing scans: each Scan waits for
// a token on gate (or its context), fails while failing is set, and names
// DB db in Status and reports.
type gatedScanner struct {
	scantest.Fake
	gate    chan struct{}
	calls   atomic.Int64
	failing atomic.Bool
	// padding adds that many vulnerabilities of random, incompressible
	// titles to each report (big reports); set before the first scan.
	padding int
	mu      sync.Mutex
	db      time.Time
}

func newGated() *gatedScanner {
	return &gatedScanner{gate: make(chan struct{}, 16), db: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (g *gatedScanner) dbTime() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.db
}

func (g *gatedScanner) Status(context.Context) scan.Status {
	return scan.Status{Ready: true, DBVersion: "2", DBUpdatedAt: g.dbTime()}
}

func (g *gatedScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	g.calls.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.failing.Load() {
		return nil, errors.New("gatedScanner: failing")
	}
	r, err := g.Fake.Scan(ctx, t)
	if err == nil {
		r.DBVersion, r.DBUpdatedAt = "2", g.dbTime()
		r.Vulnerabilities = append(r.Vulnerabilities, randomVulnerabilities(g.padding)...)
	}
	return r, err
}

func newDetached(t *testing.T, inner scan.Scanner) *detach.Scanner {
	t.Helper()
	s, err := detach.New(inner, detach.Options{After: 50 * time.Millisecond, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSlowScanAnswersInProgressThenTheVerdict: a scan over After answers
// ErrInProgress at once and goes on; the retry gets its report without a
// second scan.
func TestSlowScanAnswersInProgressThenTheVerdict(t *testing.T) {
	inner := newGated()
	s := newDetached(t, inner)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))

	if _, err := s.Scan(t.Context(), target); !errors.Is(err, scan.ErrInProgress) {
		t.Fatalf("slow scan: err = %v, want scan.ErrInProgress", err)
	}
	inner.gate <- struct{}{}
	waitFor(t, func() bool { return inner.Scans() == 1 })
	r, err := s.Scan(t.Context(), target)
	if err != nil {
		t.Fatalf("retried scan: %v", err)
	}
	scantest.CheckFindings(t, r, scantest.VulnerableFindings(), "")
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("the retry scanned again: %d scans", n)
	}
}

// TestConcurrentScansShareOne: scans of one manifest at once run one scan.
func TestConcurrentScansShareOne(t *testing.T) {
	inner := newGated()
	s, err := detach.New(inner, detach.Options{After: time.Minute, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	errs := make(chan error, 3)
	for range 3 {
		go func() { _, err := s.Scan(t.Context(), target); errs <- err }()
	}
	waitFor(t, func() bool { return inner.calls.Load() == 1 })
	inner.gate <- struct{}{}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("%d scans for one manifest", n)
	}
}

// TestFailureNotKept: a failed scan is scanned again on the next request.
func TestFailureNotKept(t *testing.T) {
	inner := newGated()
	inner.failing.Store(true)
	s := newDetached(t, inner)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	inner.gate <- struct{}{}
	if _, err := s.Scan(t.Context(), target); err == nil || errors.Is(err, scan.ErrInProgress) {
		t.Fatalf("failing scan: err = %v, want the failure", err)
	}
	inner.failing.Store(false)
	inner.gate <- struct{}{}
	if _, err := s.Scan(t.Context(), target); err != nil {
		t.Fatalf("scan after a failure: %v", err)
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("%d scans, want 2 (the failure is not kept)", n)
	}
}

// TestNewDBRescans: a kept report made with an older DB than the
// scanner's is not reused.
func TestNewDBRescans(t *testing.T) {
	inner := newGated()
	s := newDetached(t, inner)
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	inner.gate <- struct{}{}
	if _, err := s.Scan(t.Context(), target); err != nil {
		t.Fatal(err)
	}
	inner.mu.Lock()
	inner.db = inner.db.Add(6 * time.Hour)
	inner.mu.Unlock()
	inner.gate <- struct{}{}
	r, err := s.Scan(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if n := inner.calls.Load(); n != 2 || !r.DBUpdatedAt.Equal(inner.dbTime()) {
		t.Errorf("%d scans, report DB %v; want a rescan with the new DB", n, r.DBUpdatedAt)
	}
}

// TestContract: the wrapper answers what its scanner answers. Nothing may
// detach here: After is long enough for the fake to finish under -race on a loaded machine (50 ms
// was not).
func TestContract(t *testing.T) {
	s, err := detach.New(&scantest.Fake{}, detach.Options{After: time.Minute, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	scantest.Contract(t, s)
}
