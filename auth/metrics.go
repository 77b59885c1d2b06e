package auth

import "github.com/prometheus/client_golang/prometheus"

// Metrics count authentication and authorization outcomes; alerts on
// failures and lockouts spot brute force and misconfigured clients.
type Metrics struct {
	Logins    *prometheus.CounterVec // result: success, bad_credentials, locked, error
	Decisions *prometheus.CounterVec // result: granted, partial, denied, challenged
	Lockouts  *prometheus.CounterVec // key: ip, user
}

// NewMetrics registers the auth metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "auth",
			Name: "logins_total", Help: "Token requests by outcome."}, []string{"result", "method"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "auth",
			Name: "decisions_total", Help: "Authorization decisions on registry and API requests."}, []string{"result"}),
		Lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "auth",
			Name: "lockouts_total", Help: "Lockouts after repeated failed logins, by key kind."}, []string{"key"}),
	}
	reg.MustRegister(m.Logins, m.Decisions, m.Lockouts)
	return m
}
