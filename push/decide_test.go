package push

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
)

// reportScanner is a fake scanner answering a fixed report or error: the
// decide stage's table needs verdicts on cue (real Trivy runs in test/gate).
type reportScanner struct {
	report *scan.Report
	err    error
}

func (s reportScanner) Scan(context.Context, scan.Target) (*scan.Report, error) {
	return s.report, s.err
}
func (reportScanner) Status(context.Context) scan.Status { return scan.Status{} }
func (reportScanner) Close() error                       { return nil }

// TestDecide: the scan and decide stages under each policy mode and
// onerror, on an image with one high finding: what the push gets, what
// its record's scan verdict says, and whether it is stored.
func TestDecide(t *testing.T) {
	high := &scan.Report{Scanner: "fake", ScannedAt: time.Now(),
		Vulnerabilities: []scan.Vulnerability{{ID: "CVE-1", Package: "p", InstalledVersion: "1", FixedVersion: "2", Severity: scan.SeverityHigh}}}
	clean := &scan.Report{Scanner: "fake", ScannedAt: time.Now()}
	cases := []struct {
		name    string
		rule    policy.Rule
		scanner scan.Scanner
		code    errcode.ErrorCode // zero: accepted
		verdict string
	}{
		{"enforce blocks", policy.Rule{Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}, reportScanner{report: high},
			errcode.ErrorCodeDenied, "enforce:block"},
		{"enforce passes clean", policy.Rule{Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}, reportScanner{report: clean},
			errcode.ErrorCode(0), "enforce:pass"},
		{"enforce below threshold", policy.Rule{Mode: policy.Enforce, Severity: scan.SeverityCritical, OnError: policy.Reject}, reportScanner{report: high},
			errcode.ErrorCode(0), "enforce:pass"},
		{"audit records what enforce would do", policy.Rule{Mode: policy.Audit, Severity: scan.SeverityHigh, OnError: policy.Accept}, reportScanner{report: high},
			errcode.ErrorCode(0), "audit:would-refuse"},
		{"audit passes clean", policy.Rule{Mode: policy.Audit, Severity: scan.SeverityHigh, OnError: policy.Accept}, reportScanner{report: clean},
			errcode.ErrorCode(0), "audit:pass"},
		{"scan fails, reject", policy.Rule{Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}, reportScanner{err: scan.ErrNoDB},
			errcode.ErrorCodeTooManyRequests, "scan-failed-rejected"},
		{"scan fails, accept", policy.Rule{Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Accept}, reportScanner{err: errors.New("boom")},
			errcode.ErrorCode(0), "scan-failed-accepted"},
		{"no scanner", policy.Rule{Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}, nil,
			errcode.ErrorCodeTooManyRequests, "scan-failed-rejected"},
		{"off", policy.Rule{Mode: policy.Off, OnError: policy.Reject}, reportScanner{report: high},
			errcode.ErrorCode(0), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.rule.Repositories = "**"
			set, err := policy.NewSet([]policy.Rule{c.rule})
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, func(o *Options) {
				o.Scanning = Scanning{Scanner: c.scanner, Policies: set, Timeout: time.Minute}
			})
			x := newPush("team/app", h.image("team/app", "img"), "v1")
			err = h.pipeline.Run(context.Background(), x)
			var e errcode.Error
			switch {
			case c.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case c.code != 0 && (!errors.As(err, &e) || e.Code != c.code):
				t.Fatalf("error %v, want %s", err, c.code)
			}
			rec := h.record(x.Record().ID)
			verdict := ""
			if rec.Scan != nil {
				verdict = rec.Scan.Verdict
			}
			if verdict != c.verdict {
				t.Fatalf("verdict %q, want %q", verdict, c.verdict)
			}
			wantStatus := metadata.StatusAccepted
			if c.code != 0 {
				wantStatus = metadata.StatusRejected
			}
			if rec.Status != wantStatus || h.stored("team/app", x.CanonicalDigest()) != (c.code == 0) {
				t.Fatalf("status %s, stored %v", rec.Status, h.stored("team/app", x.CanonicalDigest()))
			}
		})
	}
}
