package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/api"
)

// ageWords reads as days from two days on, as hours and minutes below.
func TestAgeWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                          "0 h 0 min",
		90 * time.Minute:           "1 h 30 min",
		47*time.Hour + time.Minute: "47 h 1 min",
		7 * 24 * time.Hour:         "7 days 0 h",
		520*24*time.Hour + 10*time.Hour + 47*time.Minute: "520 days 10 h",
	} {
		if got := ageWords(d); got != want {
			t.Errorf("ageWords(%s) = %q, want %q", d, got, want)
		}
	}
}

// The status template renders every section the fixture of test/ui
// leaves empty: lifecycle rules, webhooks, the outbox and dead letters.
func TestStatusTemplate(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	v := statusView{Status: api.Status{Readiness: "not ready",
		Immutable: []api.ImmutableRule{{Repositories: "prod/**", Tags: []string{"v*"}}},
		Quotas:    []api.QuotaRule{{Repositories: "team/*", Scope: "namespace", MaxBytes: 10_000_000_000, MaxRepositories: 50}},
		AnalysisPolicies: []api.AnalysisPolicy{{Repositories: "**", Mode: "enforce", MinEfficiency: 0.9, MaxWastedBytes: 1 << 20,
			MaxWastedPercent: 12.5}},
		Webhooks: api.WebhookStatus{Endpoints: []api.Webhook{{Name: "chat", URL: "https://hooks.example.com/…", Recent: []api.WebhookAttempt{
			{At: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Type: "push.accepted", Attempt: 2, Status: 204, DurationMS: 12, Outcome: "delivered"},
			{Type: "push.accepted", Attempt: 1, Outcome: "retry", Error: "connection refused", DurationMS: 0.412}}}, {Name: "quiet", URL: "https://quiet.example.com"}},
			Pending: 3, Dead: 1, DeadLetters: []api.DeadLetter{{Endpoint: "chat", Type: "push.rejected", Attempts: 30,
				LastError: "503 Service Unavailable", Enqueued: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}}}}}
	var buf strings.Builder
	if err := pages["status"].Execute(&buf, frame{Title: "Registry status", Data: v}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not ready", "No scanner", "prod/**", "v*", "10.0 GB", "50 repositories", "90.0 %",
		"12.5 %", "chat", "https://hooks.example.com/…", "all events", "3 deliveries pending, 1 given up",
		"503 Service Unavailable", "2026-12-01 00:00:00 UTC",
		"Recent deliveries to chat", "2026-12-02 00:00:00 UTC", "12 ms", "0.41 ms", "204", "delivered", "none", "connection refused",
		"Recent deliveries to quiet", "No delivery attempts recorded yet"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
