package push

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
)

// downScanner fails every scan with an unreachable pool while down is set,
// and finds nothing otherwise.
type downScanner struct{ down atomic.Bool }

func (s *downScanner) Scan(context.Context, scan.Target) (*scan.Report, error) {
	if s.down.Load() {
		return nil, errors.Join(scan.ErrUnreachable, scan.ErrBusy)
	}
	return &scan.Report{Scanner: "fake", ScannedAt: time.Now()}, nil
}
func (*downScanner) Status(context.Context) scan.Status { return scan.Status{} }
func (*downScanner) Close() error                       { return nil }

// TestRetriedRefusalRecordedOnce: a push refused 429 because no scanner
// answers, attempted four times (crane's retries), adds one rejected
// record, not four; the attempt after the retry window adds one more; the
// attempt once the scanner is back is accepted and recorded.
func TestRetriedRefusalRecordedOnce(t *testing.T) {
	sc := &downScanner{}
	sc.down.Store(true)
	set, err := policy.NewSet([]policy.Rule{{Repositories: "**", Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Scanning = Scanning{Scanner: sc, Policies: set, Timeout: time.Minute} })
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	h.pipeline.now = func() time.Time { return now }
	payload := h.image("team/app", "img")
	attempt := func() error {
		return h.pipeline.Run(context.Background(), newPush("team/app", payload, "v1"))
	}
	count := func(status metadata.Status) int {
		page, err := h.store.List(context.Background(), metadata.Query{Repository: "team/app", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range page.Records {
			if r.Status == status {
				n++
			}
		}
		return n
	}

	for i := range 4 {
		var e errcode.Error
		if err := attempt(); !errors.As(err, &e) || e.Code != errcode.ErrorCodeTooManyRequests {
			t.Fatalf("attempt %d: %v, want 429 TOOMANYREQUESTS", i+1, err)
		}
		now = now.Add(5 * time.Second)
	}
	if n := count(metadata.StatusRejected); n != 1 {
		t.Fatalf("%d rejected records after four attempts of one push, want 1", n)
	}
	now = now.Add(retryWindow)
	_ = attempt()
	if n := count(metadata.StatusRejected); n != 2 {
		t.Fatalf("%d rejected records after an attempt past the retry window, want 2", n)
	}
	sc.down.Store(false)
	if err := attempt(); err != nil {
		t.Fatalf("attempt with the scanner back: %v", err)
	}
	if n := count(metadata.StatusAccepted); n != 1 {
		t.Fatalf("%d accepted records, want 1", n)
	}
}

// TestRetriedRefusalRecordedOnceAcrossReplicas: a push refused 429 and
// retried alternately on two replicas sharing a fleet store adds one
// rejected record, not one per replica (the memo was per process).
func TestRetriedRefusalRecordedOnceAcrossReplicas(t *testing.T) {
	sc := &downScanner{}
	sc.down.Store(true)
	set, err := policy.NewSet([]policy.Rule{{Repositories: "**", Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Scanning = Scanning{Scanner: sc, Policies: set, Timeout: time.Minute}
		o.Retries = fleet.NewMemory(0)
	})
	replicas := []*Pipeline{h.pipeline, New(h.pipeline.opts)}
	payload := h.image("team/app", "img")
	for i := range 4 {
		var e errcode.Error
		err := replicas[i%2].Run(context.Background(), newPush("team/app", payload, "v1"))
		if !errors.As(err, &e) || e.Code != errcode.ErrorCodeTooManyRequests {
			t.Fatalf("attempt %d: %v, want 429 TOOMANYREQUESTS", i+1, err)
		}
	}
	page, err := h.store.List(context.Background(), metadata.Query{Repository: "team/app", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(page.Records); n != 1 || page.Records[0].Status != metadata.StatusRejected {
		t.Fatalf("%d records after four attempts of one push on two replicas, want 1 rejected", n)
	}
}
