package auth

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count authentication and authorization outcomes; alerts on
// failures and lockouts spot brute force and misconfigured clients.
type Metrics struct {
	Logins    *prometheus.CounterVec // result: success, bad_credentials, locked, error; method: see attemptedMethod
	Decisions *prometheus.CounterVec // result: granted, partial, denied, challenged
	Lockouts  *prometheus.CounterVec // key: addr, user
}

// MethodRefreshToken is the method label of logins with a refresh token
// (grant_type=refresh_token, docker's identity token).
const MethodRefreshToken = "refresh_token"

// NewMetrics registers the auth metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "auth",
			Name: "logins_total", Help: "Token requests with credentials, by result (success, bad_credentials, locked, error) and method (password, robot, oidc, refresh_token)."},
			[]string{"result", "method"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "auth",
			Name: "decisions_total", Help: "Authorization decisions on registry and API requests."}, []string{"result"}),
		Lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "auth",
			Name: "lockouts_total", Help: "Lockouts after repeated failed logins, by key kind (addr: a client address, user: a user from one address)."}, []string{"key"}),
	}
	reg.MustRegister(m.Logins, m.Decisions, m.Lockouts)
	return m
}

// attemptedMethod is the method label of a login with username and
// password, known before (and whether or not) it succeeds: a robot's
// "robot$" username, an OIDC ID token (a JWT as password), or a password.
func attemptedMethod(username, password string) string {
	switch {
	case strings.HasPrefix(username, RobotPrefix):
		return MethodRobot
	case looksLikeJWT(password):
		return MethodOIDC
	}
	return MethodPassword
}
