package registry

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/notify"
)

// TestSuspiciousActivityEndToEnd: a password spray against the token
// endpoint of a real server — failed logins for many usernames from one
// address — is one incident: one audit line, one count of the detections
// metric and one signed security.password_spraying event at the webhook
// receiver, however long the spray goes on past the threshold.
func TestSuspiciousActivityEndToEnd(t *testing.T) {
	hook := &hookReceiver{t: t}
	rcv := httptest.NewServer(hook)
	defer rcv.Close()
	s := startUsersServer(t, testUsers, nil, func(c *config.Config) {
		c.Debug.Metrics = true
		c.Security.PasswordSpraying = config.SecurityRule{Threshold: 5, Window: time.Minute, Cooldown: time.Hour}
		c.Notifications.Outbox = filepath.Join(t.TempDir(), "notify.db")
		c.Notifications.Backoff = config.NotificationBackoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
		c.Notifications.Endpoints = []config.NotificationEndpoint{{Name: "soc", URL: rcv.URL, Secret: hookSecret,
			Events: []string{"security.password_spraying", "security.brute_force"}}}
	})
	for i := range 12 {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/auth/token?service=imagegate", nil)
		req.SetBasicAuth(fmt.Sprintf("guess%d", i), "password1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login %d: %d, want 401", i, resp.StatusCode)
		}
	}
	s.monitor.Flush()

	ev := hook.await(t, notify.SecurityPasswordSpraying, "")
	sec := ev.Data.Security
	if ev.Subject != "client/127.0.0.1" || sec == nil || sec.Detector != "password_spraying" || sec.ClientIP != "127.0.0.1" ||
		sec.Count != 5 || sec.Threshold != 5 || sec.WindowSeconds != 60 || sec.CooldownSeconds != 3600 {
		t.Fatalf("event %+v, security %+v", ev, sec)
	}
	waitFor(t, 10*time.Second, "the outbox to drain", func() bool { p, _, err := s.events.Pending(); return err == nil && p == 0 })
	hook.mu.Lock()
	events := len(hook.events)
	hook.mu.Unlock()
	if events != 1 {
		t.Errorf("%d security events, want 1", events)
	}

	var lines int
	for _, l := range s.logs.lines(t) {
		if l["event"] == "security.password_spraying" {
			lines++
			if l["audit"] != "security" || l["client_ip"] != "127.0.0.1" || l["level"] != "WARN" {
				t.Errorf("audit line %v", l)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d audit lines, want 1", lines)
	}
	status, _, body := do(t, http.MethodGet, "http://"+s.DebugAddr().String()+"/metrics", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `imagegate_security_detections_total{detector="password_spraying"} 1`) ||
		!strings.Contains(string(body), `imagegate_security_detections_total{detector="brute_force"} 0`) {
		t.Errorf("metrics (%d) lack the detection counts", status)
	}
}
