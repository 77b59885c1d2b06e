package push

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/validate"
)

// TestMetricsOutcomes: each way a push ends is counted once, under the
// door, outcome, verdict, mode, reason and repository labels it deserves.
func TestMetricsOutcomes(t *testing.T) {
	high := &scan.Report{Scanner: "fake", ScannedAt: time.Now(),
		Vulnerabilities: []scan.Vulnerability{{ID: "CVE-1", Package: "p", InstalledVersion: "1", FixedVersion: "2", Severity: scan.SeverityHigh}}}
	clean := &scan.Report{Scanner: "fake", ScannedAt: time.Now()}
	enforce := policy.Rule{Repositories: "**", Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject}
	accepting := enforce
	accepting.OnError = policy.Accept
	cases := []struct {
		name     string
		rule     *policy.Rule
		scanner  scan.Scanner
		limits   validate.Limits
		repo     string
		payload  func(h *harness, repo string) []byte
		want     []string // door, outcome, verdict, mode, reason, repository
		accepted bool
	}{
		{name: "accepted without policies", repo: "team/app",
			want: []string{"registry", "accepted", "not_scanned", "none", "none", "team/**"}, accepted: true},
		{name: "accepted clean", rule: &enforce, scanner: reportScanner{report: clean}, repo: "team/app",
			want: []string{"registry", "accepted", "pass", "enforce", "none", "team/**"}, accepted: true},
		{name: "vulnerable refused", rule: &enforce, scanner: reportScanner{report: high}, repo: "team/app",
			want: []string{"registry", "refused", "block", "enforce", "vulnerabilities", "team/**"}},
		{name: "scan failed, reject", rule: &enforce, scanner: reportScanner{err: scan.ErrNoDB}, repo: "other/app",
			want: []string{"registry", "refused", "scan_failed", "enforce", "scan_unavailable", "other"}},
		{name: "scan timed out, reject", rule: &enforce, scanner: reportScanner{err: context.DeadlineExceeded}, repo: "other/app",
			want: []string{"registry", "refused", "scan_failed", "enforce", "scan_unavailable", "other"}},
		{name: "scan failed, accept", rule: &accepting, scanner: reportScanner{err: errors.New("boom")}, repo: "other/app",
			want: []string{"registry", "accepted", "scan_failed", "enforce", "none", "other"}, accepted: true},
		{name: "malformed", repo: "team/app", payload: func(*harness, string) []byte { return []byte(`{"schemaVersion":2`) },
			want: []string{"registry", "refused", "not_scanned", "none", "validation", "team/**"}},
		{name: "over a limit", repo: "team/app", limits: validate.Limits{MaxImageBytes: 1},
			want: []string{"registry", "refused", "not_scanned", "none", "limits", "team/**"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMetrics(prometheus.NewRegistry(), []string{"team/**"})
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, func(o *Options) {
				o.Metrics = m
				if c.rule != nil {
					set, err := policy.NewSet([]policy.Rule{*c.rule})
					if err != nil {
						t.Fatal(err)
					}
					o.Scanning = Scanning{Scanner: c.scanner, Policies: set, Timeout: time.Minute}
				}
				if c.limits != (validate.Limits{}) {
					v, err := validate.New(validate.Options{AllowArtifacts: true, Limits: c.limits})
					if err != nil {
						t.Fatal(err)
					}
					o.Validator = v
				}
			})
			payload := h.image(c.repo, "img")
			if c.payload != nil {
				payload = c.payload(h, c.repo)
			}
			err = h.pipeline.Run(context.Background(), newPush(c.repo, payload, "v1"))
			if (err == nil) != c.accepted {
				t.Fatalf("Run: %v, want accepted=%v", err, c.accepted)
			}
			if n := testutil.CollectAndCount(m.pushes); n != 1 {
				t.Errorf("%d pushes series, want 1: %s", n, dump(t, m.pushes))
			}
			if got := testutil.ToFloat64(m.pushes.WithLabelValues(c.want...)); got != 1 {
				t.Errorf("pushes_total%v = %v, want 1; have %s", c.want, got, dump(t, m.pushes))
			}
			if got := testutil.CollectAndCount(m.duration); got != 1 {
				t.Errorf("%d duration series, want 1", got)
			}
		})
	}
}

// TestMetricsStages: an accepted push times every stage once, except the
// record stage (pending, then final).
func TestMetricsStages(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Metrics = m })
	if err := h.pipeline.Run(context.Background(), newPush("team/app", h.image("team/app", "img"), "v1")); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{StageValidate: 1, StageScan: 1, StageDecide: 1, StageLock: 1, StageRecord: 2, StageStore: 1}
	for stage, n := range want {
		if got := sampleCount(t, m.stages, stage); got != n {
			t.Errorf("stage %s observed %d times, want %d", stage, got, n)
		}
	}
}

// TestMetricsDoorRefusal: refusals before the pipeline count under the door.
func TestMetricsDoorRefusal(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Refused(DoorRegistry, "a/b", ReasonAuth)
	if got := testutil.ToFloat64(m.pushes.WithLabelValues("registry", "refused", "not_scanned", "none", "auth", "other")); got != 1 {
		t.Errorf("auth refusal counted %v times, want 1", got)
	}
	var nilMetrics *Metrics
	nilMetrics.Refused(DoorRegistry, "a/b", ReasonAuth) // must not panic
	if _, err := NewMetrics(prometheus.NewRegistry(), []string{"a//b"}); err == nil {
		t.Error("a bad repository pattern was accepted")
	}
}

func sampleCount(t *testing.T, h *prometheus.HistogramVec, stage string) uint64 {
	t.Helper()
	obs, err := h.GetMetricWithLabelValues(stage)
	if err != nil {
		t.Fatal(err)
	}
	pb := &dto.Metric{}
	if err := obs.(prometheus.Metric).Write(pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}

func dump(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			b.WriteString(mm.String() + "\n")
		}
	}
	return b.String()
}
