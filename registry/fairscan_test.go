package registry

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/scan"
)

// queueScanner is a fault-injection fake: a one-worker scanner whose scans
// last until the test ends them (a real Trivy scan takes seconds, never
// on cue). Waiting scans get the worker first come, first served, as in
// scan/trivy's queue. Each scan reports its repository on started when it
// gets the worker; one value on finish ends the running scan, clean. It
// counts each identity's scans inside it (waiting or running) and their
// peak.
type queueScanner struct {
	started chan string
	finish  chan struct{}
	ended   chan struct{} // closed when the test ends: every scan returns

	mu     sync.Mutex
	busy   bool
	queue  []chan struct{}
	inside map[string]int
	peak   map[string]int
}

func newQueueScanner() *queueScanner {
	return &queueScanner{started: make(chan string, 8), finish: make(chan struct{}), ended: make(chan struct{}),
		inside: map[string]int{}, peak: map[string]int{}}
}

func (q *queueScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	who := ""
	if info := reqctx.From(ctx); info != nil {
		who = info.User()
	}
	grant := make(chan struct{})
	q.mu.Lock()
	q.inside[who]++
	q.peak[who] = max(q.peak[who], q.inside[who])
	defer func() {
		q.mu.Lock()
		q.inside[who]--
		q.mu.Unlock()
	}()
	if q.busy {
		q.queue = append(q.queue, grant)
	} else {
		q.busy = true
		close(grant)
	}
	q.mu.Unlock()
	select {
	case <-grant:
	case <-q.ended:
		return nil, scan.ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("queueScanner: %w: %w", scan.ErrBusy, ctx.Err()) // the test fails before this matters
	}
	q.started <- t.Repository
	select {
	case <-q.finish:
	case <-q.ended:
	case <-ctx.Done():
	}
	q.mu.Lock()
	if len(q.queue) > 0 {
		close(q.queue[0])
		q.queue = q.queue[1:]
	} else {
		q.busy = false
	}
	q.mu.Unlock()
	return &scan.Report{Scanner: "queueScanner"}, ctx.Err()
}

func (q *queueScanner) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// peakOf is the most scans of who that were inside q at once.
func (q *queueScanner) peakOf(who string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.peak[who]
}

// fairOf returns the fairScanner in s's chain of wrappers, or nil.
func fairOf(s scan.Scanner) *fairScanner {
	for s != nil {
		if f, ok := s.(*fairScanner); ok {
			return f
		}
		w, ok := s.(scan.Wrapper)
		if !ok {
			return nil
		}
		s = w.Unwrap()
	}
	return nil
}

func (q *queueScanner) Status(context.Context) scan.Status { return scan.Status{Ready: true} }
func (q *queueScanner) Close() error                       { return nil }

// TestOnePusherCannotFillTheScanQueue reproduces a starvation (red-team
// review of 2026-12-04): alice pushes two distinct images at once, the
// scanner's one worker busy with the first; then root pushes one. The
// queue served scans first come, first served, so root's scan waited
// behind every scan alice had queued (before the fix: alice's second
// image got the worker next; with many images root's push waited until
// scan.timeout and got 429). With scan.maxperidentity 1, alice's second
// scan waits in her own line, and root's gets the worker next; every push
// then completes.
func TestOnePusherCannotFillTheScanQueue(t *testing.T) {
	q := newQueueScanner()
	s := startAuthServerWith(t, []Option{WithScanner(q)}, func(c *config.Config) {
		c.Scan.Policies = []config.ScanPolicy{{Repositories: "**", Mode: "enforce", Severity: "HIGH", OnError: "reject"}}
		c.Scan.Timeout = time.Minute
		c.Scan.MaxPerIdentity = 1
	})
	t.Cleanup(func() { close(q.ended) }) // before the server's shutdown: no scan left blocked
	waitingScans := func() int {
		n := q.waiting()
		if f := fairOf(s.status.scanner); f != nil {
			n += int(f.waiting.Load())
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	errs := make(chan error, 3)
	push := func(user, repo string) {
		img, _ := random.Image(128, 1)
		ref, _ := name.ParseReference(s.host()+"/"+repo+":1", name.Insecure)
		go func() { errs <- remote.Write(ref, img, as(user)) }()
	}

	push("alice", "team/first")
	if got := <-q.started; got != "team/first" {
		t.Fatalf("first scan: %s", got)
	}
	push("alice", "team/second")
	waitFor("alice's second scan to wait", func() bool { return waitingScans() == 1 })
	push("root", "other/app")
	waitFor("root's scan to wait", func() bool { return waitingScans() == 2 })

	q.finish <- struct{}{} // alice's first scan ends
	if got := <-q.started; got != "other/app" {
		t.Fatalf("after alice's first scan the worker went to %s; want root's other/app (alice already had her turn)", got)
	}
	q.finish <- struct{}{}
	if got := <-q.started; got != "team/second" {
		t.Fatalf("third scan: %s, want team/second", got)
	}
	q.finish <- struct{}{}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("push: %v", err)
		}
	}
}

// TestDetachedScansKeepTheirPlaceInLine: with scan.pool.detachafter a scan
// that outlives its push keeps its place in its pusher's line until it
// ends (red-team review of 2026-12-04: it left the line when its push was
// answered, so a pusher could have any number of scans in the queue by
// letting them detach). alice pushes three distinct images, each answered
// 429 "still running" while the one worker scans her first; root then
// pushes one. With scan.maxperidentity 1, alice's second and third scans
// wait in her line, never more than one of hers in the scanner at once,
// and root's scan gets the worker next; then alice's, one at a time; the
// retried pushes are decided with the kept reports. Before the fix
// alice's three scans were all in the scanner's queue, ahead of root's.
func TestDetachedScansKeepTheirPlaceInLine(t *testing.T) {
	q := newQueueScanner()
	s := startAuthServerWith(t, []Option{WithScanner(q)}, func(c *config.Config) {
		enforceAll(c)
		c.Scan.Timeout = time.Minute
		c.Scan.MaxPerIdentity = 1
		c.Scan.Pool.DetachAfter = 100 * time.Millisecond
	})
	t.Cleanup(func() { close(q.ended) }) // before the server's shutdown: no scan left blocked
	f := fairOf(s.status.scanner)
	waitingScans := func() int { return q.waiting() + int(f.waiting.Load()) }
	type pushed struct{ user, ref string }
	images := map[pushed]v1.Image{}
	push := func(user, repo string) pushed {
		p := pushed{user, s.host() + "/" + repo + ":1"}
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		images[p] = img
		if status := pushStatus(t, p.ref, img, as(user)); status != http.StatusTooManyRequests {
			t.Fatalf("%s's push to %s while the worker is busy: status %d, want 429 (scan still running)", user, repo, status)
		}
		return p
	}
	started := func(want string) {
		t.Helper()
		if got := <-q.started; got != want {
			t.Fatalf("the worker went to %s, want %s", got, want)
		}
	}

	push("alice", "team/first")
	started("team/first")
	push("alice", "team/second")
	push("alice", "team/third")
	waitFor(t, 20*time.Second, "alice's detached scans to wait", func() bool { return waitingScans() == 2 })
	if n := q.waiting(); n != 0 {
		t.Fatalf("%d of alice's detached scans wait in the scanner's queue, want 0 (in her own line)", n)
	}
	push("root", "other/app")
	waitFor(t, 20*time.Second, "root's scan to wait", func() bool { return waitingScans() == 3 })

	for _, next := range []string{"other/app", "team/second", "team/third"} {
		q.finish <- struct{}{}
		started(next)
	}
	q.finish <- struct{}{}
	if n := q.peakOf("alice"); n != 1 {
		t.Fatalf("alice had %d scans in the scanner at once, want at most scan.maxperidentity (1)", n)
	}
	for p, img := range images {
		waitFor(t, 20*time.Second, p.ref+"'s retried push decided", func() bool { return pushStatus(t, p.ref, img, as(p.user)) == 0 })
	}
}

// scanFunc is a fault-injection fake: a scanner that runs f, for faults a
// real scanner does not produce on cue (one ignoring its context, one
// panicking).
type scanFunc func(context.Context, scan.Target) (*scan.Report, error)

func (f scanFunc) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) { return f(ctx, t) }
func (scanFunc) Status(context.Context) scan.Status                              { return scan.Status{Ready: true} }
func (scanFunc) Close() error                                                    { return nil }

// TestFairScannerPlacesComeBack: no scan keeps its place in its line for
// ever. A scan that ignores its context gives its place back when that
// context ends (before the fix it kept it until it returned: never); each
// call's context is bounded by scan.timeout, also when the caller's has no
// deadline; a panicking scan gives its place back as it unwinds.
func TestFairScannerPlacesComeBack(t *testing.T) {
	const limit = time.Minute
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	entered := make(chan time.Time, 1)
	var calls atomic.Int64
	f := newFairScanner(scanFunc(func(ctx context.Context, tg scan.Target) (*scan.Report, error) {
		switch calls.Add(1) {
		case 1: // never returns while the test runs, whatever its context says
			deadline, ok := ctx.Deadline()
			if !ok {
				t.Error("the scan's context has no deadline; want scan.timeout")
			}
			entered <- deadline
			<-hang
			return nil, ctx.Err()
		case 2:
			panic("scanner bug")
		}
		return &scan.Report{}, nil
	}), 1, limit)
	ctx := reqctx.With(t.Context(), &reqctx.Info{ID: "test"})
	target := scan.Target{Repository: "team/app", Digest: digest.FromString("team/app")}

	short, cancel := context.WithCancel(ctx)
	go f.Scan(short, target) //nolint:errcheck // it never returns while the test runs
	if deadline := <-entered; time.Until(deadline) > limit {
		t.Fatalf("the scan's deadline is %s away, want at most scan.timeout (%s)", time.Until(deadline), limit)
	}
	cancel() // the hung scan's context ends: its place comes back
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("the second scan did not reach the scanner (it panics there)")
			}
		}()
		wait, stop := context.WithTimeout(ctx, 20*time.Second)
		defer stop()
		f.Scan(wait, target) //nolint:errcheck // it panics
	}()
	wait, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	if _, err := f.Scan(wait, target); err != nil {
		t.Fatalf("a scan after a panicking one: %v, want the place back", err)
	}
}
