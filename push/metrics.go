package push

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/metadata"
)

// Metrics counts every push the gate sees, by how it ended, and times each
// stage. Every label takes values from a fixed set (see the Door*,
// Outcome*, Verdict*, Reason* constants); repositories appear only as the
// operator's configured patterns, every other repository as "other".
// A nil *Metrics records nothing.
type Metrics struct {
	pushes   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	stages   *prometheus.HistogramVec
	repos    []repopattern.Pattern
}

// Values of the door label: how a push arrived.
const (
	DoorRegistry = "registry" // PUT /v2/<name>/manifests/<ref>
	DoorUpload   = "upload"   // a tarball upload
)

// Values of the outcome label.
const (
	OutcomeAccepted = "accepted" // stored and tagged
	OutcomeRefused  = "refused"  // the gate (or the door) said no: the pusher must change something
	OutcomeFailed   = "failed"   // the gate could not decide or storing failed: retry
)

// Values of the verdict label: what the scan stage concluded.
const (
	VerdictNotScanned  = "not_scanned" // no policy scans it, an index or artifact, or refused before the scan
	VerdictPass        = "pass"
	VerdictBlock       = "block" // at or above the policy's severity (audit: would have blocked)
	VerdictUnscannable = "unscannable"
	VerdictScanFailed  = "scan_failed"
	VerdictInProgress  = "in_progress" // the scan goes on in the background; the pusher retries
)

// Values of the reason label: why a push was refused or failed ("none" when
// accepted).
const (
	ReasonNone            = "none"
	ReasonAuth            = "auth"             // the door refused the caller
	ReasonValidation      = "validation"       // malformed manifest, missing blobs, bad reference, lint
	ReasonLimits          = "limits"           // a size or count limit
	ReasonVulnerabilities = "vulnerabilities"  // the policy blocks its findings
	ReasonUnscannable     = "unscannable"      // an enforce policy refuses content no scanner can read
	ReasonScanUnavailable = "scan_unavailable" // the scan failed, timed out or still runs, and onerror rejects
	ReasonIndex           = "index"            // an index lists children that did not pass the gate
	ReasonWaste           = "waste"            // the layer analysis policy refused the image (or could not analyse it)
	ReasonUnsafePaths     = "unsafe_paths"     // a layer holds entry names that leave the image's root or hold NUL (tar-slip)
	ReasonBatch           = "batch"            // another manifest of the same upload was refused
	ReasonImmutable       = "immutable"        // the push would move an immutable tag (lifecycle.immutable)
	ReasonQuota           = "quota"            // the push would take its namespace past its quota (lifecycle.quotas)
	ReasonConflict        = "conflict"         // the tags' lock could not be taken
	ReasonMetadata        = "metadata"         // the push record could not be written
	ReasonStorage         = "storage"          // storing or tagging failed
	ReasonInternal        = "internal"         // the gate could not decide (storage unreachable, …)
)

// Values of the stage label of the stage histogram.
const (
	StageValidate = "validate" // parse, validate, describe
	StageAnalyze  = "analyze"  // layer analysis (push/analyze.go)
	StageScan     = "scan"
	StageDecide   = "decide" // an index's children
	StageLock     = "lock"
	StageRecord   = "record" // pending and final records
	StageStore    = "store"  // store, link, tag
)

// RepositoryOther is the repository label of repositories no configured
// pattern matches.
const RepositoryOther = "other"

// NewMetrics registers the push metrics on reg. repositories are patterns
// (internal/repopattern) that get a repository label value of their own,
// the pattern's text; the first that matches wins.
func NewMetrics(reg prometheus.Registerer, repositories []string) (*Metrics, error) {
	m := &Metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "push", Name: "pushes_total",
			Help: "Manifest pushes by door, outcome, scan verdict, policy mode, reason class and repository pattern.",
		}, []string{"door", "outcome", "verdict", "mode", "reason", "repository"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "imagegate", Subsystem: "push", Name: "duration_seconds",
			Help:    "Time from a push entering the gate to its outcome, by door and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"door", "outcome"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "imagegate", Subsystem: "push", Name: "stage_duration_seconds",
			Help:    "Time of one stage of the push pipeline (validate, scan, decide, lock, record, store).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"stage"}),
	}
	for _, r := range repositories {
		p, err := repopattern.Compile(r)
		if err != nil {
			return nil, fmt.Errorf("push: metrics repository pattern: %w", err)
		}
		m.repos = append(m.repos, p)
	}
	if err := registerAll(reg, m.pushes, m.duration, m.stages); err != nil {
		return nil, err
	}
	return m, nil
}

// registerAll registers cs on reg, returning the first error.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("push: registering metrics: %w", err)
		}
	}
	return nil
}

// repository is the repository label value of name.
func (m *Metrics) repository(name string) string {
	for _, p := range m.repos {
		if p.Match(name) {
			return p.String()
		}
	}
	return RepositoryOther
}

// stage observes one stage that began at start.
func (m *Metrics) stage(name string, start time.Time) {
	if m != nil {
		m.stages.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
}

// outcome counts one push. mode is the repository's policy mode ("none"
// without policies); verdict is derived from rec's scan summary.
func (m *Metrics) outcome(door, repo, outcome, reason, mode string, rec *metadata.Record, began time.Time) {
	if m == nil {
		return
	}
	m.pushes.WithLabelValues(door, outcome, verdictOf(rec), mode, reason, m.repository(repo)).Inc()
	if !began.IsZero() {
		m.duration.WithLabelValues(door, outcome).Observe(time.Since(began).Seconds())
	}
}

// Refused counts a push a door refused before it entered the pipeline
// (authorization, an unreadable request): reason is one of the Reason*
// values.
func (m *Metrics) Refused(door, repo, reason string) {
	m.outcome(door, repo, OutcomeRefused, reason, modeNone, nil, time.Time{})
}

// modeNone is the mode label when no policy applies.
const modeNone = "none"
