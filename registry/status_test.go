package registry

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/scan/scantest"
)

// TestStatus: an admin reads the scanner DB, the configured policies,
// lifecycle rules and webhooks from GET /api/v1/status; a webhook's URL
// shows its host only and its secret never; a non-admin is refused.
func TestStatus(t *testing.T) {
	const pathSecret = "T000/B000/xoxb-path-secret"
	s := startAuthServerWith(t, []Option{WithScanner(&scantest.Fake{})}, func(c *config.Config) {
		c.Scan.Policies = []config.ScanPolicy{{Repositories: "prod/**", Mode: "enforce", Severity: "HIGH", OnError: "reject",
			Allowlist: []config.ScanException{{ID: "CVE-2026-0001", Reason: "not reachable", Expires: "2999-01-31"},
				{ID: "CVE-2020-0002", Reason: "reviewed once", Expires: "2020-01-01"}}}}
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "prod/**", Tags: []string{"v*"}}}
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "chat", URL: "https://user:pw@hooks.example.com/" + pathSecret + "?token=q",
			Secret: hookSecret, Events: []string{"push.rejected"}}}
	})
	admin := bearer(token(t, s, "root", "registry:catalog:*"))
	status, _, body := do(t, "GET", s.base+"/api/v1/status", admin, nil)
	if status != http.StatusOK {
		t.Fatalf("admin: %d %s", status, body)
	}
	for _, secret := range []string{pathSecret, "token=q", "pw@", hookSecret} {
		if strings.Contains(string(body), secret) {
			t.Errorf("status shows %q: %s", secret, body)
		}
	}
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Scanner == nil || !st.Scanner.Loaded || st.Scanner.Version != "fake" || st.Scanner.AgeSeconds == nil {
		t.Errorf("scanner: %+v", st.Scanner)
	}
	if len(st.ScanPolicies) != 1 || st.ScanPolicies[0].Mode != "enforce" || st.ScanPolicies[0].Severity != "HIGH" ||
		len(st.ScanPolicies[0].Allowlist) != 2 || st.ScanPolicies[0].Allowlist[0].Expires != "2999-01-31" ||
		st.ScanPolicies[0].Allowlist[0].Expired || !st.ScanPolicies[0].Allowlist[1].Expired {
		t.Errorf("scan policies: %+v", st.ScanPolicies)
	}
	if len(st.Immutable) != 1 || st.Immutable[0].Tags[0] != "v*" {
		t.Errorf("immutable: %+v", st.Immutable)
	}
	hooks := st.Webhooks.Endpoints
	if len(hooks) != 1 || hooks[0].URL != "https://hooks.example.com/…" || hooks[0].Events[0] != "push.rejected" {
		t.Errorf("webhooks: %+v", hooks)
	}
	if st.Readiness == "" {
		t.Error("no readiness")
	}
	alice := bearer(token(t, s, "alice", "registry:catalog:*"))
	if status, _, body := do(t, "GET", s.base+"/api/v1/status", alice, nil); status != http.StatusForbidden {
		t.Fatalf("non-admin: %d %s", status, body)
	}
}
