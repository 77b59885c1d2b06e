package push

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
)

// watchLog remembers what the pipeline told its Watcher.
type watchLog struct {
	mu       sync.Mutex
	finished []metadata.Status
	layers   []digest.Digest
	refused  string // the repository of the VulnerableLayers call
}

func (w *watchLog) PushFinished(_ context.Context, rec metadata.Record) {
	w.mu.Lock()
	w.finished = append(w.finished, rec.Status)
	w.mu.Unlock()
}

func (w *watchLog) VulnerableLayers(_ context.Context, rec metadata.Record, layers []digest.Digest) {
	w.mu.Lock()
	w.layers, w.refused = append(w.layers, layers...), rec.Repository
	w.mu.Unlock()
}

// TestWatcherSeesVerdicts: an enforce refusal reports the layers holding
// the violations (once each) and the rejected record; an accepted push
// reports its final record only — never the pending one.
func TestWatcherSeesVerdicts(t *testing.T) {
	bad := digest.FromString("the vulnerable layer")
	report := &scan.Report{Scanner: "fake", ScannedAt: time.Now(), Vulnerabilities: []scan.Vulnerability{
		{ID: "CVE-1", Package: "p", InstalledVersion: "1", FixedVersion: "2", Severity: scan.SeverityHigh, Layer: bad},
		{ID: "CVE-2", Package: "q", InstalledVersion: "1", FixedVersion: "2", Severity: scan.SeverityCritical, Layer: bad},
	}}
	set, err := policy.NewSet([]policy.Rule{
		{Repositories: "prod/**", Mode: policy.Enforce, Severity: scan.SeverityHigh, OnError: policy.Reject},
		{Repositories: "**", Mode: policy.Audit, Severity: scan.SeverityHigh, OnError: policy.Accept},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &watchLog{}
	h := newHarness(t, func(o *Options) {
		o.Scanning = Scanning{Scanner: reportScanner{report: report}, Policies: set, Timeout: time.Minute}
		o.Watcher = w
	})
	if err := h.pipeline.Run(context.Background(), newPush("prod/app", h.image("prod/app", "img"), "v1")); err == nil {
		t.Fatal("the enforce policy let a HIGH finding through")
	}
	if err := h.pipeline.Run(context.Background(), newPush("dev/app", h.image("dev/app", "img"), "v1")); err != nil {
		t.Fatalf("audit refused: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Equal(w.layers, []digest.Digest{bad}) || w.refused != "prod/app" {
		t.Errorf("vulnerable layers %v in %q, want [%s] in prod/app", w.layers, w.refused, bad)
	}
	if want := []metadata.Status{metadata.StatusRejected, metadata.StatusAccepted}; !slices.Equal(w.finished, want) {
		t.Errorf("finished %v, want %v", w.finished, want)
	}
}
