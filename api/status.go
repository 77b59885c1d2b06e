package api

import (
	"context"
	"net/http"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/errcodes"
)

// StatusReader gives the registry's state for administrators (the
// registry wires it from its configuration, scanner, readiness and
// notifier). Nothing it returns may be secret: no webhook secrets or
// URL paths, no DSNs, no error texts of backends.
type StatusReader interface {
	Status(ctx context.Context) (Status, error)
}

// Status is the answer of GET /api/v1/status (docs/api.md).
type Status struct {
	// Readiness is /readyz's word: ready, degraded or not ready.
	Readiness        string           `json:"readiness"`
	Scanner          *ScannerStatus   `json:"scanner,omitempty"`
	ScanPolicies     []ScanPolicy     `json:"scan_policies"`
	AnalysisPolicies []AnalysisPolicy `json:"analysis_policies"`
	Immutable        []ImmutableRule  `json:"immutable"`
	Quotas           []QuotaRule      `json:"quotas"`
	Webhooks         WebhookStatus    `json:"webhooks"`
}

// ScannerStatus is the vulnerability DB's state.
type ScannerStatus struct {
	Loaded    bool       `json:"db_loaded"`
	Version   string     `json:"db_version,omitempty"`
	UpdatedAt *time.Time `json:"db_updated_at,omitempty"`
	// AgeSeconds and MaxAgeSeconds (0: no limit) say how stale it is.
	AgeSeconds    *int64 `json:"db_age_seconds,omitempty"`
	MaxAgeSeconds int64  `json:"db_max_age_seconds,omitempty"`
}

// ScanPolicy is one scan.policies entry, in order (first match wins).
type ScanPolicy struct {
	Repositories  string          `json:"repositories"`
	Mode          string          `json:"mode"`
	Severity      string          `json:"severity,omitempty"`
	IgnoreUnfixed bool            `json:"ignore_unfixed"`
	OnError       string          `json:"on_error,omitempty"`
	Allowlist     []AllowlistItem `json:"allowlist"`
}

// AllowlistItem is one allowed vulnerability; Expires empty never expires.
type AllowlistItem struct {
	ID      string `json:"id"`
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
	// Expired: Expires is past; the entry no longer lets anything through.
	Expired bool `json:"expired"`
}

// AnalysisPolicy is one analysis.policies entry, in order.
type AnalysisPolicy struct {
	Repositories     string  `json:"repositories"`
	Mode             string  `json:"mode"`
	MinEfficiency    float64 `json:"min_efficiency,omitempty"`
	MaxWastedBytes   int64   `json:"max_wasted_bytes,omitempty"`
	MaxWastedPercent float64 `json:"max_wasted_percent,omitempty"`
}

// ImmutableRule is one lifecycle.immutable entry.
type ImmutableRule struct {
	Repositories string   `json:"repositories"`
	Tags         []string `json:"tags"`
}

// QuotaRule is one lifecycle.quotas entry; usage per repository is GET
// /api/v1/quota.
type QuotaRule struct {
	Repositories    string `json:"repositories"`
	Scope           string `json:"scope,omitempty"`
	MaxBytes        int64  `json:"max_bytes,omitempty"`
	MaxRepositories int64  `json:"max_repositories,omitempty"`
}

// WebhookStatus is the notification endpoints and their outbox.
type WebhookStatus struct {
	Endpoints []Webhook `json:"endpoints"`
	// Pending and Dead count the outbox's deliveries waiting and given up.
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
	// DeadLetters are the oldest deliveries given up (at most MaxStatusDeadLetters).
	DeadLetters []DeadLetter `json:"dead_letters"`
}

// MaxStatusDeadLetters bounds Status's dead letters.
const MaxStatusDeadLetters = 20

// Webhook is one endpoint; URL is scheme and host only ("/…" when there
// is more: receivers carry credentials in paths and queries).
type Webhook struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	Events       []string `json:"events"`
	Repositories []string `json:"repositories"`
	// Recent are the last delivery attempts to it, newest first (at most
	// notify.RecentPerEndpoint): successes and failures.
	Recent []WebhookAttempt `json:"recent"`
}

// WebhookAttempt is one delivery attempt to an endpoint.
type WebhookAttempt struct {
	At      time.Time `json:"at"`
	EventID string    `json:"event_id"`
	Type    string    `json:"type"`
	// Attempt is its number for this event, 1 the first.
	Attempt int `json:"attempt"`
	// Status is the receiver's HTTP status, 0 when it answered none.
	Status int `json:"status"`
	// DurationMS is how long the attempt took, in milliseconds with
	// microsecond precision (0.412: 412 µs).
	DurationMS float64 `json:"duration_ms"`
	// Outcome is delivered, retry or dead (the last attempt failed).
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// DeadLetter is one delivery given up.
type DeadLetter struct {
	Endpoint  string    `json:"endpoint"`
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	Enqueued  time.Time `json:"enqueued"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
}

// status answers GET /api/v1/status; administrators only.
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	if a.statuses == nil {
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("status is not served by this server"))
		return
	}
	if !a.allowAdmin(w, r, "reading the registry's status") {
		return
	}
	if _, perr := readParams(r.URL.Query()); perr != nil {
		perr.serve(w)
		return
	}
	st, err := a.statuses.Status(r.Context())
	if err != nil {
		a.logger.ErrorContext(r.Context(), "reading status", "error", err)
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("reading the registry's status failed; retry later"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}
