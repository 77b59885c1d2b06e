package registry

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/scan"
)

// queueScanner is a fault-injection fake: a one-worker scanner whose scans
// last until the test ends them (a real Trivy scan takes seconds, never
// on cue). Waiting scans get the worker first come, first served, as in
// scan/trivy's queue. Each scan reports its repository on started when it
// gets the worker; one value on finish ends the running scan, clean.
type queueScanner struct {
	started chan string
	finish  chan struct{}
	ended   chan struct{} // closed when the test ends: every scan returns

	mu    sync.Mutex
	busy  bool
	queue []chan struct{}
}

func newQueueScanner() *queueScanner {
	return &queueScanner{started: make(chan string, 8), finish: make(chan struct{}), ended: make(chan struct{})}
}

func (q *queueScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	grant := make(chan struct{})
	q.mu.Lock()
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
		if f, ok := s.status.scanner.(*fairScanner); ok {
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
