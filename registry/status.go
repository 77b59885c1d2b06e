package registry

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/scan"
)

// statusSource answers GET /api/v1/status from the configuration, the
// scanner, readiness and the notifier. It copies only what is no secret:
// webhook URLs are cut to scheme and host, secrets and DSNs never read.
type statusSource struct {
	cfg     *config.Config
	scanner scan.Scanner // nil without one
	ready   *readiness
	events  *notify.Notifier
}

// Status implements api.StatusReader.
func (s statusSource) Status(ctx context.Context) (api.Status, error) {
	_, body := s.ready.report(ctx, false)
	out := api.Status{Readiness: fmt.Sprint(body["status"]), ScanPolicies: []api.ScanPolicy{},
		AnalysisPolicies: []api.AnalysisPolicy{}, Immutable: []api.ImmutableRule{}, Quotas: []api.QuotaRule{}}
	if s.scanner != nil {
		db := scannerInfo(s.scanner, s.cfg.Scan.MaxDBAge)(ctx).(scannerDB)
		out.Scanner = &api.ScannerStatus{Loaded: db.Loaded, Version: db.Version, UpdatedAt: db.UpdatedAt,
			AgeSeconds: db.AgeSeconds, MaxAgeSeconds: db.MaxAgeSeconds}
	}
	now := time.Now()
	for _, p := range s.cfg.Scan.Policies {
		sp := api.ScanPolicy{Repositories: p.Repositories, Mode: p.Mode, Severity: p.Severity, IgnoreUnfixed: p.IgnoreUnfixed,
			OnError: p.OnError, Allowlist: []api.AllowlistItem{}}
		for _, e := range p.Allowlist {
			until, err := config.ParseExpiry(e.Expires) // validated at start-up
			expired := err == nil && !until.IsZero() && !now.Before(until)
			sp.Allowlist = append(sp.Allowlist, api.AllowlistItem{ID: e.ID, Reason: e.Reason, Expires: e.Expires, Expired: expired})
		}
		out.ScanPolicies = append(out.ScanPolicies, sp)
	}
	for _, p := range s.cfg.Analysis.Policies {
		out.AnalysisPolicies = append(out.AnalysisPolicies, api.AnalysisPolicy{Repositories: p.Repositories, Mode: p.Mode,
			MinEfficiency: p.MinEfficiency, MaxWastedBytes: p.MaxWastedBytes, MaxWastedPercent: p.MaxWastedPercent})
	}
	for _, r := range s.cfg.Lifecycle.Immutable {
		out.Immutable = append(out.Immutable, api.ImmutableRule{Repositories: r.Repositories, Tags: r.Tags})
	}
	for _, q := range s.cfg.Lifecycle.Quotas {
		out.Quotas = append(out.Quotas, api.QuotaRule{Repositories: q.Repositories, Scope: q.Scope, MaxBytes: q.MaxBytes, MaxRepositories: q.MaxRepositories})
	}
	hooks, err := s.webhooks(ctx)
	if err != nil {
		return api.Status{}, err
	}
	out.Webhooks = hooks
	return out, nil
}

// webhooks lists the endpoints, the outbox's counts and its oldest dead letters.
func (s statusSource) webhooks(ctx context.Context) (api.WebhookStatus, error) {
	out := api.WebhookStatus{Endpoints: []api.Webhook{}, DeadLetters: []api.DeadLetter{}}
	for _, e := range s.cfg.Notifications.Endpoints {
		hook := api.Webhook{Name: e.Name, URL: hostOnly(e.URL), Events: e.Events, Repositories: e.Repositories, Recent: []api.WebhookAttempt{}}
		recent, err := s.events.Recent(ctx, e.Name) // nil without a notifier
		if err != nil {
			return out, fmt.Errorf("status: recent webhook deliveries: %w", err)
		}
		for _, a := range recent {
			hook.Recent = append(hook.Recent, api.WebhookAttempt{At: a.At, EventID: a.EventID, Type: string(a.Type), Attempt: a.Attempt,
				Status: a.Status, DurationMS: logs.Millis(a.Duration), Outcome: a.Outcome, Error: a.Error})
		}
		out.Endpoints = append(out.Endpoints, hook)
	}
	if len(out.Endpoints) == 0 || s.events == nil {
		return out, nil
	}
	var err error
	if out.Pending, out.Dead, err = s.events.Pending(); err != nil {
		return out, fmt.Errorf("status: counting webhook deliveries: %w", err)
	}
	dead, err := s.events.DeadLetters(ctx, "", api.MaxStatusDeadLetters)
	if err != nil {
		return out, fmt.Errorf("status: listing dead letters: %w", err)
	}
	for _, d := range dead {
		out.DeadLetters = append(out.DeadLetters, api.DeadLetter{Endpoint: d.Endpoint, EventID: d.EventID, Type: string(d.Type),
			Enqueued: d.Enqueued, Attempts: d.Attempts, LastError: d.LastError})
	}
	return out, nil
}

// hostOnly is a webhook URL as the status shows it: scheme and host,
// "/…" when there is more (paths and queries carry credentials), never
// user info.
func hostOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		s += "/…"
	}
	return s
}
