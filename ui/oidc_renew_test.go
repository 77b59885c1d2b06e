package ui

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestOIDCRenewal: past its ID token's expiry the session is renewed with
// the refresh token, without sending the browser to the provider; the
// refresh token the provider rotated to is the one used next; a token
// with time left is not renewed.
func TestOIDCRenewal(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	if v := u.signIn(); v.Subject != "sso:erin" || !v.TeamPull || v.OtherDelete {
		t.Fatalf("signed in as %+v", v)
	}
	if !strings.Contains(p.lastScope(), "offline_access") {
		t.Fatalf("scope asked: %q", p.lastScope())
	}
	u.requireSealed()
	if u.cookieMaxAge != int((12 * time.Hour).Seconds()) { // the browser keeps it past the ID token: ui.sessionttl
		t.Fatalf("session cookie Max-Age %d", u.cookieMaxAge)
	}
	clock.Add(2 * time.Minute) // 3 min left: no renewal
	u.probeOK(u.probe())
	if p.grants() != 0 {
		t.Fatalf("%d refresh grants with time left, want 0", p.grants())
	}
	for i := 1; i <= 3; i++ {
		clock.Add(4 * time.Minute) // past the token's expiry
		if v := u.probeOK(u.probe()); v.Subject != "sso:erin" {
			t.Fatalf("renewal %d: %+v", i, v)
		}
		used := p.refreshTokens()
		if p.grants() != i || p.authorizations() != 1 {
			t.Fatalf("renewal %d: %d refresh grants, %d sign-ins at the provider; want %d, 1", i, p.grants(), p.authorizations(), i)
		}
		if i > 1 && used[i-1] == used[i-2] {
			t.Fatalf("renewal %d used the refresh token the provider rotated away", i)
		}
	}
	u.requireSealed()
	if !strings.Contains(u.logs.String(), `"msg":"ui oidc session renewed"`) {
		t.Fatalf("no renewal logged: %s", u.logs)
	}
}

// TestOIDCRenewalRevoked: a refresh token the provider refuses
// (invalid_grant) ends the session: the browser is sent to sign in, the
// session is gone from the store, and the next request with the same
// cookie does not ask the provider again.
func TestOIDCRenewalRevoked(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	p.revokeAll()
	clock.Add(6 * time.Minute)
	u.wantSignIn(u.probe())
	if n := u.sessionCount(); n != 0 {
		t.Fatalf("%d sessions stored after a refused renewal, want 0", n)
	}
	u.wantSignIn(u.probe())
	if p.grants() != 1 {
		t.Fatalf("%d refresh grants, want 1", p.grants())
	}
	if !strings.Contains(u.logs.String(), `"msg":"ui oidc renewal refused"`) {
		t.Fatalf("refusal not logged: %s", u.logs)
	}
}

// TestOIDCRenewalRefusesAnotherSubject: a renewed ID token naming another
// subject (a provider mixing sessions up, a refresh token of someone
// else) is refused and ends the session; so are one with another
// audience and one carrying another nonce.
func TestOIDCRenewalRefusesAnotherSubject(t *testing.T) {
	for name, mut := range map[string]func(c jwt.MapClaims){
		"subject":  func(c jwt.MapClaims) { c["sub"] = "mallory" },
		"audience": func(c jwt.MapClaims) { c["aud"] = "another-client" },
		"nonce":    func(c jwt.MapClaims) { c["nonce"] = "another-nonce" },
		"expired":  func(c jwt.MapClaims) { c["exp"] = c["iat"] },
	} {
		t.Run(name, func(t *testing.T) {
			clock := newTestClock()
			p := newProvider(t, clock)
			u := newRenewUI(t, p, nil, "offline_access")
			u.signIn()
			p.set(func(p *provider) { p.renewal = mut })
			clock.Add(6 * time.Minute)
			u.wantSignIn(u.probe())
			if p.grants() != 1 || u.sessionCount() != 0 {
				t.Fatalf("%d grants, %d sessions; want 1, 0", p.grants(), u.sessionCount())
			}
		})
	}
}

// TestOIDCRenewalGroupRemoved: the renewed claims decide what the person
// may do: removed from the admins group at the provider, the person keeps
// the session but loses admin's delete at the renewal.
func TestOIDCRenewalGroupRemoved(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	p.groups = []string{"platform", "admins"}
	u := newRenewUI(t, p, nil, "offline_access")
	if v := u.signIn(); !v.OtherDelete || !v.TeamPull {
		t.Fatalf("an admin signed in as %+v", v)
	}
	p.set(func(p *provider) { p.groups = []string{"platform"} })
	clock.Add(time.Minute) // the token still has 4 min: no renewal, nothing changes yet
	if v := u.probeOK(u.probe()); !v.OtherDelete {
		t.Fatalf("before the renewal: %+v", v)
	}
	clock.Add(3*time.Minute + 30*time.Second) // 30 s left: within the renewal margin (a minute)
	if v := u.probeOK(u.probe()); v.OtherDelete || !v.TeamPull || v.Subject != "sso:erin" {
		t.Fatalf("after the renewal: %+v, want team pull only", v)
	}
	// Out of every group the rules know: no rule matches, the renewal is refused.
	p.set(func(p *provider) { p.groups = nil })
	clock.Add(6 * time.Minute)
	u.wantSignIn(u.probe())
}

// TestOIDCWithoutRefreshToken: without offline_access the provider gives
// no refresh token, and the session ends with its ID token, as before.
func TestOIDCWithoutRefreshToken(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil)
	u.signIn()
	if strings.Contains(p.lastScope(), "offline_access") {
		t.Fatalf("offline_access asked unconfigured: %q", p.lastScope())
	}
	if u.cookieMaxAge != 300 { // the cookie ends with the ID token
		t.Fatalf("session cookie Max-Age %d, want 300", u.cookieMaxAge)
	}
	clock.Add(6 * time.Minute)
	u.wantSignIn(u.probe())
	if p.grants() != 0 {
		t.Fatalf("%d refresh grants, want 0", p.grants())
	}
}

// TestOIDCRefreshTokenTooLarge: a refresh token over maxRefreshTokenLen
// is not kept: the sign-in works and ends with its ID token.
func TestOIDCRefreshTokenTooLarge(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	p.refreshExtra = maxRefreshTokenLen
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	clock.Add(6 * time.Minute)
	u.wantSignIn(u.probe())
	if p.grants() != 0 || !strings.Contains(u.logs.String(), "ui oidc refresh token not kept") {
		t.Fatalf("%d grants; logs %s", p.grants(), u.logs)
	}
}

// TestOIDCRenewalProviderDown: while the provider fails (503), a token
// with time left carries on; an expired one answers 503 and keeps the
// session, which renews once the provider is back.
func TestOIDCRenewalProviderDown(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	p.set(func(p *provider) { p.down = true })
	clock.Add(4*time.Minute + 30*time.Second) // renewal due, token live
	u.probeOK(u.probe())
	clock.Add(time.Minute) // expired
	if res := u.probe(); res.status != http.StatusServiceUnavailable || !bytes.Contains(res.body, []byte("could not be renewed")) {
		t.Fatalf("expired, provider down: %d %s", res.status, res.body)
	}
	p.set(func(p *provider) { p.down = false })
	if v := u.probeOK(u.probe()); v.Subject != "sso:erin" {
		t.Fatalf("provider back: %+v", v)
	}
}

// TestOIDCRenewalOnce: many requests finding the token expired at once
// make one refresh grant (a second use of a rotated refresh token would
// be refused, and some providers revoke the whole family for it); all are
// served.
func TestOIDCRenewalOnce(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	u := newRenewUI(t, p, nil, "offline_access")
	u.signIn()
	release := p.hold()
	clock.Add(6 * time.Minute)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	before := u.gets.n.Load()
	for i := range statuses {
		wg.Go(func() { statuses[i] = u.probe().status })
	}
	// One request reached the provider, and every request read its expired session.
	waitFor(t, "the requests", func() bool { return p.waiting() > 0 && u.gets.n.Load() >= before+int64(len(statuses))+1 })
	release()
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("request %d: %d", i, s)
		}
	}
	if p.grants() != 1 {
		t.Fatalf("%d refresh grants, want 1", p.grants())
	}
}

// TestOIDCRenewalAcrossReplicas: two replicas sharing the session store;
// while one renews (the provider holds its grant), the other, finding the
// token expired, waits for that renewal instead of using the refresh
// token a second time, then serves the renewed session.
func TestOIDCRenewalAcrossReplicas(t *testing.T) {
	clock := newTestClock()
	p := newProvider(t, clock)
	a := newRenewUI(t, p, nil, "offline_access")
	b := newRenewUI(t, p, a.store, "offline_access")
	a.signIn()
	b.client.Jar = a.client.Jar // one browser, two replicas
	release := p.hold()
	clock.Add(6 * time.Minute)
	done := make(chan testAnswer, 2)
	go func() { done <- a.probe() }()
	waitFor(t, "a's renewal", func() bool { return p.waiting() > 0 })
	before := b.gets.n.Load()
	go func() { done <- b.probe() }()
	// b read the session (expired), read it again to claim it (claimed by
	// a) and again polling: it waits. Had it asked the provider, the
	// provider would hold a second grant.
	waitFor(t, "b to wait", func() bool { return b.gets.n.Load() >= before+3 || p.waiting() > 1 })
	if p.waiting() > 1 {
		t.Fatal("the second replica used the refresh token too")
	}
	release()
	for range 2 {
		if res := <-done; res.status != http.StatusOK {
			t.Fatalf("probe: %d %s", res.status, res.body)
		}
	}
	if p.grants() != 1 {
		t.Fatalf("%d refresh grants, want 1", p.grants())
	}
}

// TestRefreshTokenSealed: the store holds the refresh token sealed for
// the session's cookie: not in clear, not opened under another session's
// cookie or key.
func TestRefreshTokenSealed(t *testing.T) {
	token, key := newToken(), storeKey("x")
	sealed, err := sealRefresh(token, key, "rt-secret")
	if err != nil || strings.Contains(sealed, "rt-secret") {
		t.Fatalf("sealed %q %v", sealed, err)
	}
	if got, err := openRefresh(token, key, sealed); err != nil || got != "rt-secret" {
		t.Fatalf("opened %q %v", got, err)
	}
	if _, err := openRefresh(newToken(), key, sealed); err == nil {
		t.Fatal("opened under another cookie")
	}
	if _, err := openRefresh(token, storeKey("y"), sealed); err == nil {
		t.Fatal("opened under another session key")
	}
	if _, err := sealRefresh(token, key, strings.Repeat("a", maxRefreshTokenLen+1)); !errors.Is(err, errRefreshTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

// TestOfflineParams: Google gets access_type=offline and prompt=consent
// for a configured offline_access; other issuers get the scope itself.
func TestOfflineParams(t *testing.T) {
	scopes, opts := offlineParams(googleIssuer, []string{"openid", "email", "offline_access"})
	if strings.Join(scopes, " ") != "openid email" || len(opts) != 2 {
		t.Fatalf("google: %v, %d options", scopes, len(opts))
	}
	scopes, opts = offlineParams("https://dex.example.com", []string{"openid", "offline_access"})
	if strings.Join(scopes, " ") != "openid offline_access" || len(opts) != 0 {
		t.Fatalf("dex: %v, %d options", scopes, len(opts))
	}
}

// BenchmarkOIDCRenewal: one request that renews the session (refresh
// grant at the local provider, ID token verified, session stored),
// against BenchmarkOIDCSessionRead's request that does not.
func BenchmarkOIDCRenewal(b *testing.B) {
	benchmarkProbe(b, time.Minute+time.Second) // past the 1-minute tokens' expiry
}

// BenchmarkOIDCSessionRead: one request of a live OIDC session.
func BenchmarkOIDCSessionRead(b *testing.B) {
	benchmarkProbe(b, 0)
}

func benchmarkProbe(b *testing.B, step time.Duration) {
	clock := newTestClock()
	p := newProvider(b, clock)
	p.tokenLife = time.Minute // the session's 12 h hold 700 renewals
	u := newRenewUI(b, p, nil, "offline_access")
	u.signIn()
	b.ReportAllocs()
	for b.Loop() {
		clock.Add(step)
		if res := u.probe(); res.status != http.StatusOK {
			b.Fatalf("probe: %d", res.status)
		}
	}
	if step > 0 && p.grants() < b.N {
		b.Fatalf("%d grants for %d requests", p.grants(), b.N)
	}
}
