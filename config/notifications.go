package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// Notifications configures webhooks: CloudEvents delivered at least once
// from a durable outbox (docs/notifications.md).
type Notifications struct {
	// Endpoints receive the events their filters select.
	Endpoints []NotificationEndpoint `yaml:"endpoints"`
	// Outbox is the file holding events until each endpoint acknowledges them.
	Outbox string `yaml:"outbox"`
	// MaxAttempts bounds the deliveries of one event to one endpoint;
	// after the last failure the event is kept as a dead letter.
	MaxAttempts int `yaml:"maxattempts"`
	// Backoff bounds the delay between attempts.
	Backoff NotificationBackoff `yaml:"backoff"`
	// Concurrency bounds the requests in flight, all endpoints together.
	Concurrency int `yaml:"concurrency"`
	// MaxPending bounds the deliveries waiting for one endpoint; beyond it,
	// that endpoint's new events are dropped, logged and counted
	// (imagegate_notifications_lost_total). 0: no bound.
	MaxPending int `yaml:"maxpending"`
	// Timeout bounds one delivery request (an endpoint may set its own).
	Timeout time.Duration `yaml:"timeout"`
}

// NotificationBackoff is exponential: Initial doubles after each failed
// attempt up to Max, with jitter.
type NotificationBackoff struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// NotificationEndpoint is one webhook receiver.
type NotificationEndpoint struct {
	// Name identifies the endpoint in logs, metrics and the outbox.
	Name string `yaml:"name"`
	// URL receives POST requests.
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature (Imagegate-Signature).
	Secret Secret `yaml:"secret"`
	// Events are short event types (push.accepted…); empty means all.
	Events []string `yaml:"events"`
	// Repositories are patterns ("prod/**"); empty means all.
	Repositories []string `yaml:"repositories"`
	// Timeout bounds one request; 0 uses notifications.timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// NotificationEvents are the accepted values of notifications.endpoints[].events.
var NotificationEvents = []string{"push.accepted", "push.rejected", "push.failed", "scan.completed", "upload.failed", "delete.accepted", "quota.warning",
	"security.password_spraying", "security.brute_force", "security.token_many_addresses",
	"security.refused_push_burst", "security.robot_new_repository", "security.vulnerable_layer_pushed"}

// minNotificationSecret is the shortest signing secret accepted.
const minNotificationSecret = 16

func defaultNotifications() Notifications {
	return Notifications{
		Endpoints:   []NotificationEndpoint{},
		Outbox:      "./data/notifications-outbox.db",
		MaxAttempts: 30,
		Backoff:     NotificationBackoff{Initial: time.Second, Max: 10 * time.Minute},
		Concurrency: 4,
		MaxPending:  100000,
		Timeout:     10 * time.Second,
	}
}

// validate reports the invalid values of n through bad.
func (n *Notifications) validate(bad func(key, format string, args ...any)) {
	if n.Outbox == "" {
		bad("notifications.outbox", "must be set")
	}
	if n.MaxAttempts < 1 {
		bad("notifications.maxattempts", "must be at least 1")
	}
	if n.Backoff.Initial <= 0 || n.Backoff.Max < n.Backoff.Initial {
		bad("notifications.backoff", "needs a positive initial and max ≥ initial, such as 1s and 10m")
	}
	if n.Concurrency < 1 {
		bad("notifications.concurrency", "must be at least 1")
	}
	if n.MaxPending < 0 {
		bad("notifications.maxpending", "must be 0 (no bound) or positive")
	}
	if n.Timeout <= 0 {
		bad("notifications.timeout", "must be a positive duration such as 10s")
	}
	names := map[string]bool{}
	for i, e := range n.Endpoints {
		key := fmt.Sprintf("notifications.endpoints[%d]", i)
		switch {
		case e.Name == "":
			bad(key+".name", "must be set")
		case names[e.Name]:
			bad(key+".name", "%q is used by another endpoint", e.Name)
		}
		names[e.Name] = true
		if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".url", "must be an absolute http or https URL")
		}
		if e.Secret != "" && len(e.Secret) < minNotificationSecret {
			bad(key+".secret", "must be at least %d characters, got %d", minNotificationSecret, len(e.Secret))
		}
		for _, ev := range e.Events {
			if !slices.Contains(NotificationEvents, ev) {
				bad(key+".events", "must be among %s, got %q", strings.Join(NotificationEvents, ", "), ev)
			}
		}
		for _, p := range e.Repositories {
			if _, err := repopattern.Compile(p); err != nil {
				bad(key+".repositories", "%v", err)
			}
		}
		if e.Timeout < 0 {
			bad(key+".timeout", "must not be negative")
		}
	}
}
