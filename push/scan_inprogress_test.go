package push

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
)

// TestScanInProgress: a scan that goes on in the background answers the
// push 429 "still running; retry the push" even when onerror accepts
// failed scans, and nothing is stored.
func TestScanInProgress(t *testing.T) {
	set, err := policy.NewSet([]policy.Rule{{Repositories: "**", Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Accept}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Scanning = Scanning{Scanner: reportScanner{err: fmt.Errorf("scan of team/app still running: %w", scan.ErrInProgress)},
			Policies: set, Timeout: time.Minute}
	})
	x := newPush("team/app", h.image("team/app", "img"), "v1")
	err = h.pipeline.Run(context.Background(), x)
	var e errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.ErrorCodeTooManyRequests || !strings.Contains(e.Message, "still running; retry the push") {
		t.Fatalf("push while its scan runs: err = %v, want 429 TOOMANYREQUESTS asking to retry", err)
	}
	if rec := h.record(x.Record().ID); rec.Scan == nil || rec.Scan.Verdict != "scan-in-progress" {
		t.Errorf("record scan = %+v, want verdict scan-in-progress", rec.Scan)
	}
	if h.stored("team/app", x.CanonicalDigest()) {
		t.Error("the manifest was stored before its scan finished")
	}
}
