package auth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLoginMetricsMethod: every login is counted with the method it
// attempted — failures too (they carried an empty method before), robots,
// ID tokens and refresh tokens included — and lockouts by key kind.
func TestLoginMetricsMethod(t *testing.T) {
	m := NewMetrics(prometheus.NewPedanticRegistry())
	ts := newTestService(t, func(o *Options) { o.Metrics = m })
	jwtLike := "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("a", 40) + ".sig"

	if a := ts.login(t, "alice", "alice-pw"); a.status != http.StatusOK {
		t.Fatalf("alice: %d %s", a.status, a.body)
	} else if r := ts.refresh(t, a.refresh, false); r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ user, password string }{{"alice", "wrong"}, {"robot$ci", "wrong"}, {"oidc", jwtLike}} {
		if a := ts.login(t, c.user, c.password); a.status != http.StatusUnauthorized {
			t.Fatalf("%s with a bad credential: %d %s", c.user, a.status, a.body)
		}
	}
	if r := ts.refresh(t, "not-a-token", false); r.status != http.StatusUnauthorized {
		t.Fatalf("bad refresh token: %d %s", r.status, r.body)
	}
	for _, want := range []struct {
		result, method string
	}{
		{"success", "password"}, {"success", "refresh_token"}, {"bad_credentials", "password"},
		{"bad_credentials", "robot"}, {"bad_credentials", "oidc"}, {"bad_credentials", "refresh_token"},
	} {
		if got := testutil.ToFloat64(m.Logins.WithLabelValues(want.result, want.method)); got != 1 {
			t.Errorf("logins_total{result=%q,method=%q} = %v, want 1", want.result, want.method, got)
		}
	}
	// Those six are all: no series with an empty method.
	if n := testutil.CollectAndCount(m.Logins); n != 6 {
		t.Errorf("%d logins series, want 6", n)
	}

	// Five failures from one address lock alice out there: one lockout
	// of the user key, and the sixth attempt counts as locked.
	for range 5 {
		ts.tryLogin(t, "alice", "wrong", "192.0.2.7:1000", nil)
	}
	if code := ts.tryLogin(t, "alice", "alice-pw", "192.0.2.7:1000", nil); code != http.StatusTooManyRequests {
		t.Fatalf("after five failures: %d, want 429", code)
	}
	if got := testutil.ToFloat64(m.Lockouts.WithLabelValues("user")); got != 1 {
		t.Errorf("lockouts_total{key=user} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Logins.WithLabelValues("locked", "password")); got != 1 {
		t.Errorf("logins_total{result=locked,method=password} = %v, want 1", got)
	}
}

func TestAttemptedMethod(t *testing.T) {
	for _, c := range []struct{ user, pw, want string }{
		{"alice", "pw", MethodPassword},
		{"robot$ci", "secret", MethodRobot},
		{"gitlab-ci-token", "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("x", 40) + ".s", MethodOIDC},
	} {
		if got := attemptedMethod(c.user, c.pw); got != c.want {
			t.Errorf("attemptedMethod(%q) = %q, want %q", c.user, got, c.want)
		}
	}
}
