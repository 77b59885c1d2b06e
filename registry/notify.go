package registry

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
)

// openNotifier builds the webhook notifier of cfg.Notifications; with no
// endpoints it is a no-op that opens no outbox. shared, when not nil, is
// the state replicas share and holds the outbox (any live replica delivers
// a dead one's backlog); nil keeps it in a local bbolt file.
func openNotifier(cfg *config.Config, shared fleet.Store, replica string, reg prometheus.Registerer, logger *slog.Logger) (*notify.Notifier, error) {
	n := cfg.Notifications
	opts := notify.Options{
		OutboxPath:  n.Outbox,
		Source:      cfg.HTTP.Host,
		MaxAttempts: n.MaxAttempts,
		MinBackoff:  n.Backoff.Initial,
		MaxBackoff:  n.Backoff.Max,
		Concurrency: n.Concurrency,
		MaxPending:  n.MaxPending,
		Timeout:     n.Timeout,
		Registerer:  reg,
		Logger:      logger.With("component", "notify"),
		Shared:      shared,
		Owner:       replica,
	}
	for _, e := range n.Endpoints {
		ep := notify.Endpoint{Name: e.Name, URL: e.URL, Secret: []byte(e.Secret.Reveal()),
			Repositories: e.Repositories, Timeout: e.Timeout}
		for _, s := range e.Events {
			t, err := notify.ParseType(s)
			if err != nil {
				return nil, fmt.Errorf("registry: notifications.endpoints %s: %w", e.Name, err)
			}
			ep.Events = append(ep.Events, t)
		}
		opts.Endpoints = append(opts.Endpoints, ep)
	}
	return notify.New(opts)
}

// Events is where the server's events go: the upload shim reports failed
// uploads through its UploadFailed. Never nil.
func (s *Server) Events() notify.Publisher { return s.events }
