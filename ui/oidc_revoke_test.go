package ui

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/fleet"
)

// revocation is one request to the provider's revocation_endpoint.
type revocation struct {
	token, hint, clientID string
	// live: the token was a live refresh token when revoked.
	live bool
}

// revoke is the provider's RFC 7009 revocation_endpoint: for the
// authenticated client (provider.client) the refresh token is revoked
// (200 also for an unknown token).
func (p *provider) revoke(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	client, ok := p.client(r)
	if !ok {
		writeTestJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	gate := p.revokeGate
	p.mu.Unlock()
	if gate != nil {
		<-gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revokeDown {
		writeTestJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	tok := r.PostForm.Get("token")
	_, live := p.refresh[tok]
	delete(p.refresh, tok)
	p.revocations = append(p.revocations, revocation{token: tok, hint: r.PostForm.Get("token_type_hint"),
		clientID: client, live: live})
	w.WriteHeader(http.StatusOK)
}

func (p *provider) revoked() []revocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revocations)
}

// liveRefresh is the provider's one live refresh token (the test fails
// unless there is exactly one).
func (p *provider) liveRefresh() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.refresh) != 1 {
		p.t.Fatalf("%d live refresh tokens at the provider, want 1", len(p.refresh))
	}
	for rt := range p.refresh {
		return rt
	}
	return ""
}

// liveCount is how many refresh tokens the provider holds good.
func (p *provider) liveCount() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.refresh) }

// signedInOffline is a person signed in at a new provider, asking for
// offline_access (a refresh token), and the probe page they see.
func signedInOffline(t *testing.T) (*provider, *renewUI, probeView) {
	t.Helper()
	p := newProvider(t, newTestClock())
	u := newRenewUI(t, p, nil, "offline_access")
	return p, u, u.signIn()
}

// signOut posts the sign-out form with the session's CSRF token.
func (u *renewUI) signOut(csrf string) testAnswer {
	u.t.Helper()
	return u.do(http.MethodPost, u.srv.URL+"/ui/logout", url.Values{"csrf": {csrf}})
}

// waitLogged waits until the UI logged msg.
func (u *renewUI) waitLogged(t *testing.T, msg string) {
	t.Helper()
	waitFor(t, "the log line "+msg, func() bool { return strings.Contains(u.logged(), `"msg":"`+msg+`"`) })
}

// TestOIDCSignOutRevokes: signing out revokes the session's refresh token
// (the one the provider rotated to at the last renewal) at the provider's
// revocation_endpoint, as a refresh token of the public client; the
// sign-out answers as usual, and the cookie no longer works.
func TestOIDCSignOutRevokes(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	clock.Add(6 * time.Minute)
	v := u.probeOK(u.probe()) // renewed: the refresh token rotated
	if p.grants() != 1 {
		t.Fatalf("%d refresh grants, want 1", p.grants())
	}
	live := p.liveRefresh()
	if res := u.signOut(v.CSRF); res.status != http.StatusSeeOther || res.location != "/ui/login" {
		t.Fatalf("sign-out: %d %q, want 303 to /ui/login", res.status, res.location)
	}
	// (With a responsive provider it is done before the answer; waited
	// for here, so that a loaded machine does not fail the test.)
	waitFor(t, "the revocation", func() bool { return len(p.revoked()) > 0 })
	got := p.revoked()
	if len(got) != 1 || got[0] != (revocation{token: live, hint: "refresh_token", clientID: testClientID, live: true}) {
		t.Fatalf("revocations %+v, want the live refresh token's", got)
	}
	if n := p.liveCount(); n != 0 {
		t.Fatalf("%d refresh tokens live at the provider after the sign-out", n)
	}
	u.wantSignIn(u.probe())
	if n := u.sessionCount(); n != 0 {
		t.Fatalf("%d sessions stored after the sign-out", n)
	}
	u.waitLogged(t, "ui oidc refresh token revoked")
}

// TestOIDCConfidentialClientRevokes: a UI registered with a client
// secret signs in, renews and, at the sign-out, revokes the refresh token
// authenticated as at the token endpoint — HTTP Basic with the id and
// secret form-encoded (RFC 6749 §2.3.1; RFC 7009 §2.1) — so that an
// issuer which requires client authentication for revocation (Keycloak,
// Okta, Entra) revokes it. The secret holds the characters the encoding
// is for (':' would split the Basic pair, '+' would read as a space).
func TestOIDCConfidentialClientRevokes(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	p.secret = "s3cr:t/+ &=%é"
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	clock.Add(6 * time.Minute)
	v := u.probeOK(u.probe()) // renewed with a refresh grant, also Basic-authenticated
	if p.grants() != 1 {
		t.Fatalf("%d refresh grants, want 1", p.grants())
	}
	live := p.liveRefresh()
	if res := u.signOut(v.CSRF); res.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d, want 303", res.status)
	}
	waitFor(t, "the revocation", func() bool { return len(p.revoked()) > 0 })
	got := p.revoked()
	if len(got) != 1 || got[0] != (revocation{token: live, hint: "refresh_token", clientID: testClientID, live: true}) {
		t.Fatalf("revocations %+v, want the live refresh token's, by the authenticated client", got)
	}
	if n := p.liveCount(); n != 0 {
		t.Fatalf("%d refresh tokens live at the provider after the sign-out", n)
	}
	u.waitLogged(t, "ui oidc refresh token revoked")
}

// TestOIDCSignOutSlowRevocation: a provider that does not answer the
// revocation does not hold the sign-out up past revokeWait; the
// revocation still happens once the provider answers.
func TestOIDCSignOutSlowRevocation(t *testing.T) {
	p, u, v := signedInOffline(t)
	gate := make(chan struct{})
	p.set(func(p *provider) { p.revokeGate = gate })
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	start := time.Now()
	if res := u.signOut(v.CSRF); res.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d, want 303", res.status)
	}
	if took := time.Since(start); took > revokeWait+2*time.Second {
		t.Fatalf("the sign-out took %s with the provider silent, want about %s", took, revokeWait)
	}
	if n := len(p.revoked()); n != 0 {
		t.Fatalf("%d revocations answered while the provider is held", n)
	}
	u.wantSignIn(u.probe())
	close(gate)
	waitFor(t, "the revocation", func() bool { return len(p.revoked()) == 1 })
	u.waitLogged(t, "ui oidc refresh token revoked")
}

// TestOIDCSignOutRevocationFails: a revocation the provider refuses is
// logged, and the sign-out goes on as usual.
func TestOIDCSignOutRevocationFails(t *testing.T) {
	p, u, v := signedInOffline(t)
	p.set(func(p *provider) { p.revokeDown = true })
	if res := u.signOut(v.CSRF); res.status != http.StatusSeeOther || res.location != "/ui/login" {
		t.Fatalf("sign-out: %d %q, want 303 to /ui/login", res.status, res.location)
	}
	u.waitLogged(t, "ui oidc refresh token not revoked")
	if !strings.Contains(u.logged(), "503 Service Unavailable") {
		t.Errorf("the provider's answer is not in the log: %s", u.logged())
	}
	u.wantSignIn(u.probe())
}

// TestOIDCSignOutNoRevocationEndpoint: with a provider whose discovery
// advertises no revocation_endpoint the token is only dropped.
func TestOIDCSignOutNoRevocationEndpoint(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	p.set(func(p *provider) { p.noRevocation = true })
	u := newRenewUI(t, p, nil, "offline_access")
	v := u.signIn()
	if res := u.signOut(v.CSRF); res.status != http.StatusSeeOther || res.location != "/ui/login" {
		t.Fatalf("sign-out: %d %q, want 303 to /ui/login", res.status, res.location)
	}
	u.waitLogged(t, "ui oidc refresh token dropped")
	if n := len(p.revoked()); n != 0 {
		t.Fatalf("%d revocations without an advertised endpoint", n)
	}
	u.wantSignIn(u.probe())
}

// TestOIDCSessionTTLRevokes: a session past ui.sessionttl ends, and its
// refresh token is revoked.
func TestOIDCSessionTTLRevokes(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	live := p.liveRefresh()
	clock.Add(12*time.Hour + time.Minute)
	u.wantSignIn(u.probe())
	waitFor(t, "the revocation", func() bool { return len(p.revoked()) == 1 })
	if r := p.revoked()[0]; r.token != live || !r.live {
		t.Fatalf("revoked %+v, want the session's refresh token %q", r, live)
	}
}

// TestOIDCRenewalRefusedRevokes: a renewal whose ID token is not accepted
// (another subject) ends the session, and the refresh token the provider
// rotated to in that grant is revoked: none stays good at the provider.
func TestOIDCRenewalRefusedRevokes(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	p.set(func(p *provider) { p.renewal = func(c jwt.MapClaims) { c["sub"] = "mallory" } })
	clock.Add(6 * time.Minute)
	u.wantSignIn(u.probe())
	waitFor(t, "the revocation", func() bool { return len(p.revoked()) == 1 })
	if r := p.revoked()[0]; !r.live || r.hint != "refresh_token" {
		t.Fatalf("revoked %+v, want the rotated refresh token", r)
	}
	if n := p.liveCount(); n != 0 {
		t.Fatalf("%d refresh tokens live at the provider after the refused renewal", n)
	}
}

// TestOIDCRenewalOvertakenBySignOut: a sign-out (on another replica,
// while the ID token is still live) that deletes the session after the
// provider answered a renewal's grant but before the renewal stored its
// result: the refresh token the provider rotated to in that grant is
// revoked by the renewal, so none stays good at the provider.
func TestOIDCRenewalOvertakenBySignOut(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	store := &heldStore{Store: fleet.NewMemory(1000)}
	a := newRenewUI(t, p, store, "offline_access")
	b := newRenewUI(t, p, store, "offline_access")
	v := a.signIn()
	b.client.Jar = a.client.Jar // one browser, two replicas
	release := store.holdRenewal()
	t.Cleanup(release)
	clock.Add(4*time.Minute + 30*time.Second) // due (within a minute of expiry), still live
	done := make(chan testAnswer, 1)
	go func() { done <- a.probe() }()
	waitFor(t, "a's renewal to reach the store", store.holding)
	if p.grants() != 1 {
		t.Fatalf("%d refresh grants, want 1", p.grants())
	}
	if res := b.signOut(v.CSRF); res.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d %s", res.status, res.body)
	}
	release()
	a.wantSignIn(<-done)
	waitFor(t, "no refresh token live at the provider", func() bool { return p.liveCount() == 0 })
	var live int
	for _, r := range p.revoked() {
		if r.live {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("revocations %+v: want the rotated token revoked while live", p.revoked())
	}
}

// heldStore holds, once armed, the next session write that ends a
// renewal (no "renewing" claim in it) until released.
type heldStore struct {
	fleet.Store
	mu      sync.Mutex
	gate    chan struct{}
	waiting bool
}

// holdRenewal arms the hold; release lets the held write go on.
func (h *heldStore) holdRenewal() (release func()) {
	gate := make(chan struct{})
	h.mu.Lock()
	h.gate = gate
	h.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// holding reports whether a write is held.
func (h *heldStore) holding() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.waiting }

func (h *heldStore) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	h.mu.Lock()
	gate := h.gate
	held := gate != nil && space == SessionSpace && expect != 0 && !bytes.Contains(value, []byte(`"renewing"`))
	if held {
		h.gate, h.waiting = nil, true
	}
	h.mu.Unlock()
	if held {
		<-gate
	}
	return h.Store.Put(ctx, space, key, value, expect, ttl)
}
