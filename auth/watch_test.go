package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	distauth "github.com/distribution/distribution/v3/registry/auth"
)

// recordingWatcher remembers every call, as "method arg arg…".
type recordingWatcher struct {
	mu    sync.Mutex
	calls []string
}

func (w *recordingWatcher) add(parts ...string) {
	w.mu.Lock()
	w.calls = append(w.calls, strings.Join(parts, " "))
	w.mu.Unlock()
}

func (w *recordingWatcher) LoginFailed(_ context.Context, username, addr string) {
	w.add("LoginFailed", username, addr)
}

func (w *recordingWatcher) TokenUsed(_ context.Context, token, subject, addr string) {
	w.add("TokenUsed", token, subject, addr)
}

func (w *recordingWatcher) RepositoryRead(_ context.Context, subject, method, repository, addr string) {
	w.add("RepositoryRead", subject, method, repository, addr)
}

func (w *recordingWatcher) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.calls
	w.calls = nil
	return out
}

// TestWatcherSeesLoginsTokensAndReads: the token endpoint reports failed
// password logins (not successes; federated ones without their shared
// username) and accepted refresh chains; the access controller reports
// every accepted token and, for GETs, the repositories read.
func TestWatcherSeesLoginsTokensAndReads(t *testing.T) {
	ts := newTestService(t, nil)
	w := &recordingWatcher{}
	ts.SetWatcher(w)
	const addr = "203.0.113.7:5000"

	ts.tryLogin(t, "alice", "wrong", addr, nil)
	ts.tryLogin(t, "oidc", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSIsImF1ZCI6InJlZ2lzdHJ5In0.c2lnbmF0dXJlLXBhcnQ", addr, nil)
	ts.tryLogin(t, "alice", "alice-pw", addr, nil)
	if got, want := w.take(), []string{"LoginFailed alice 203.0.113.7", "LoginFailed  203.0.113.7"}; !slices.Equal(got, want) {
		t.Fatalf("logins: %q, want %q", got, want)
	}

	ans := ts.login(t, "alice", "alice-pw")
	w.take()
	c, err := ts.verifier.VerifyRefresh(ans.refresh)
	if err != nil {
		t.Fatal(err)
	}
	if r := ts.refresh(t, ans.refresh, false); r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	if got, want := w.take(), []string{"TokenUsed chain:" + c.Chain + " alice 192.0.2.1"}; !slices.Equal(got, want) {
		t.Fatalf("refresh: %q, want %q", got, want)
	}

	tok, _, err := ts.issuer.Issue(Identity{Subject: "robot$ci", Method: MethodRobot},
		[]ResourceActions{{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}}})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ts.verifier.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	pull := distauth.Access{Resource: distauth.Resource{Type: "repository", Name: "team/app"}, Action: "pull"}
	push := distauth.Access{Resource: distauth.Resource{Type: "repository", Name: "team/app"}, Action: "push"}
	for _, tc := range []struct {
		method string
		access []distauth.Access
		want   []string
	}{
		{http.MethodGet, []distauth.Access{pull}, []string{"TokenUsed jti:" + claims.ID + " robot$ci 203.0.113.7",
			"RepositoryRead robot$ci robot team/app 203.0.113.7"}},
		{http.MethodHead, []distauth.Access{pull}, []string{"TokenUsed jti:" + claims.ID + " robot$ci 203.0.113.7"}},
		{http.MethodPut, []distauth.Access{pull, push}, []string{"TokenUsed jti:" + claims.ID + " robot$ci 203.0.113.7"}},
	} {
		r := httptest.NewRequest(tc.method, "/v2/team/app/manifests/latest", nil)
		r.RemoteAddr = addr
		r.Header.Set("Authorization", "Bearer "+tok)
		if _, err := ts.Authorized(r, tc.access...); err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		if got := w.take(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.method, got, tc.want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/v2/team/app/manifests/latest", nil)
	r.Header.Set("Authorization", "Bearer not-a-token")
	if _, err := ts.Authorized(r, pull); err == nil {
		t.Fatal("a bad token was accepted")
	}
	if got := w.take(); len(got) != 0 {
		t.Errorf("a refused token was reported: %q", got)
	}
}
