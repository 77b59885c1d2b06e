package registry

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/security"
)

// openMonitor starts the suspicious-activity detectors of cfg.Security
// (nil when disabled): counts in store — the state replicas share, or this
// process's memory — and alerts as audit lines, metrics on reg and
// security.* events through events.
func openMonitor(cfg *config.Config, store fleet.Store, events *notify.Notifier, reg prometheus.Registerer, logger *slog.Logger) (*security.Monitor, error) {
	if !cfg.Security.Enabled {
		return nil, nil
	}
	return security.New(security.Options{Config: cfg.Security, Store: store, Alerts: events, Registerer: reg,
		Logger: logger.With("component", "security")})
}

// pushWatcher is m for the push pipeline; nil (no watcher) when m is.
func pushWatcher(m *security.Monitor) push.Watcher {
	if m == nil {
		return nil
	}
	return m
}

// watchAuth makes m watch svc's logins, token uses and reads, when both
// exist.
func watchAuth(svc *auth.Service, m *security.Monitor) {
	if svc != nil && m != nil {
		svc.SetWatcher(m)
	}
}
