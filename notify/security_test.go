package notify

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
)

// TestSecurityEvent: a security alert reaches an endpoint filtering on its
// type as a signed CloudEvent carrying the detection; an endpoint
// filtering on repositories gets only alerts about a repository it wants.
func TestSecurityEvent(t *testing.T) {
	rcv, other := newReceiver(t, secret), newReceiver(t, secret)
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "soc", URL: rcv.srv.URL, Secret: []byte(secret), Events: []Type{SecurityPasswordSpraying}},
		Endpoint{Name: "team", URL: other.srv.URL, Secret: []byte(secret), Repositories: []string{"team/**"}})
	defer n.Close()
	since := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n.Security(context.Background(), SecurityAlert{Type: SecurityPasswordSpraying, Subject: "client/203.0.113.7",
		At: since.Add(time.Minute), Reason: "client 203.0.113.7 failed logins for 10 distinct usernames within 10m0s",
		Security: Security{Detector: "password_spraying", ClientIP: "203.0.113.7", Count: 10, Threshold: 10,
			WindowSeconds: 600, Since: since, CooldownSeconds: 3600}})
	n.Security(context.Background(), SecurityAlert{Type: SecurityRobotNewRepository, Subject: "team/app",
		Repository: "team/app", User: &User{Subject: "robot$ci", Method: "robot"},
		Security: Security{Detector: "robot_new_repository", Count: 1}})
	waitFor(t, "both deliveries", func() bool {
		a, _, _ := rcv.snapshot()
		b, _, _ := other.snapshot()
		return len(a) == 1 && len(b) == 1
	})
	rcv.mu.Lock()
	var ev Event
	for _, e := range rcv.events {
		ev = e
	}
	rcv.mu.Unlock()
	s := ev.Data.Security
	if ev.Type != SecurityPasswordSpraying || ev.Subject != "client/203.0.113.7" || s == nil ||
		s.Detector != "password_spraying" || s.ClientIP != "203.0.113.7" || s.Count != 10 || s.Threshold != 10 ||
		s.WindowSeconds != 600 || !s.Since.Equal(since) || s.CooldownSeconds != 3600 || ev.Data.Reason == "" {
		t.Fatalf("event: %+v, security: %+v", ev, s)
	}
	other.mu.Lock()
	for _, e := range other.events {
		if e.Type != SecurityRobotNewRepository || e.Data.Repository != "team/app" || e.Data.User.Subject != "robot$ci" {
			t.Errorf("team endpoint got %+v", e)
		}
	}
	other.mu.Unlock()
}

// TestSecurityTypesAreConfigurable: every event type, the security ones
// included, is accepted in notifications.endpoints[].events, and nothing
// else is.
func TestSecurityTypesAreConfigurable(t *testing.T) {
	var short []string
	for _, ty := range Types {
		short = append(short, ty.Short())
		if _, err := ParseType(ty.Short()); err != nil {
			t.Errorf("ParseType(%q): %v", ty.Short(), err)
		}
	}
	for _, ty := range SecurityTypes {
		if !slices.Contains(Types, ty) {
			t.Errorf("%s is not in Types", ty)
		}
	}
	if !slices.Equal(short, config.NotificationEvents) {
		t.Errorf("config.NotificationEvents = %v, want %v", config.NotificationEvents, short)
	}
}
