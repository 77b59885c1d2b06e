package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/fleet"
)

// renewUI is the UI signing people in at a provider, with a probe page
// (/ui/probe) behind the UI's own signedIn that reports what the session
// lets its person do.
type renewUI struct {
	t      testing.TB
	p      *provider
	clock  *testClock
	h      *Handler
	srv    *httptest.Server
	store  fleet.Store
	gets   *countingStore // the store as this replica reads it
	client *http.Client
	logs   *bytes.Buffer
}

// probeView is what /ui/probe answers.
type probeView struct {
	Subject     string
	TeamPull    bool // may pull team/app (the platform group's rule)
	OtherDelete bool // may delete other/app (the admins group's rule)
}

// newRenewUI serves the UI over store (nil: a new one) for the provider
// p, asking for scopes.
func newRenewUI(t testing.TB, p *provider, store fleet.Store, scopes ...string) *renewUI {
	t.Helper()
	if store == nil {
		store = fleet.NewMemory(1000)
	}
	signIn, err := auth.NewOIDCSignIn(auth.OIDCConfig{Issuer: p.srv.URL, Audience: "https://registry.test", UsernamePrefix: "sso:",
		Now: p.clock.Now, Rules: []auth.OIDCRule{
			{Claim: "groups", Equals: "platform", Role: "developer", Repositories: "team/**"},
			{Claim: "groups", Equals: "admins", Role: "admin", Repositories: "**"},
		}}, testClientID, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := auth.NewPolicy(auth.PolicyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	u := &renewUI{t: t, p: p, clock: p.clock, store: store, gets: &countingStore{Store: store}, logs: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: u.logs}, nil))
	u.h, err = New(Options{API: api.New(nil, api.Options{}, logger), Auth: auth.NewService(auth.Options{Policy: policy}),
		Sessions: u.gets, SessionTTL: 12 * time.Hour, Now: p.clock.Now, Logger: logger,
		OIDC: &OIDCLogin{Name: "Test SSO", SignIn: signIn, ClientID: testClientID, Scopes: scopes}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ui/probe", u.h.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
		_ = json.NewEncoder(w).Encode(probeView{Subject: s.Person.Subject, TeamPull: s.caller.May("team/app", "pull"),
			OtherDelete: s.caller.May("other/app", "delete")})
	}))
	mux.Handle("/", u.h)
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	jar, _ := cookiejar.New(nil)
	u.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return u
}

// waitFor spins (yielding) until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		runtime.Gosched()
	}
}

// countingStore counts the reads of sessions.
type countingStore struct {
	fleet.Store
	n atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	if space == SessionSpace {
		c.n.Add(1)
	}
	return c.Store.Get(ctx, space, key)
}

// lockedWriter serialises the log lines of concurrent requests.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn goes through the sign-in page, the provider and the callback,
// ending on the probe page.
func (u *renewUI) signIn() probeView {
	u.t.Helper()
	res := u.do(http.MethodGet, u.srv.URL+"/ui/login?next=/ui/probe", nil)
	m := csrfInput.FindSubmatch(res.body)
	if res.status != http.StatusOK || m == nil {
		u.t.Fatalf("sign-in page: %d %s", res.status, res.body)
	}
	target := u.srv.URL + "/ui/login/oidc"
	res = u.do(http.MethodPost, target, url.Values{"csrf": {string(m[1])}, "next": {"/ui/probe"}})
	for hop := 0; res.status/100 == 3 && hop < 3; hop++ { // the provider, the callback, the probe
		target = follow(target, res)
		res = u.do(http.MethodGet, target, nil)
	}
	return u.probeOK(res)
}

// probe asks the probe page with the browser's cookie.
func (u *renewUI) probe() testAnswer {
	u.t.Helper()
	return u.do(http.MethodGet, u.srv.URL+"/ui/probe", nil)
}

// probeOK requires res to be the probe page and decodes it.
func (u *renewUI) probeOK(res testAnswer) probeView {
	u.t.Helper()
	var v probeView
	if res.status != http.StatusOK || json.Unmarshal(res.body, &v) != nil {
		u.t.Fatalf("probe: %d %s %s, want the page", res.status, res.location, res.body)
	}
	return v
}

// wantSignIn requires res to send the browser to the UI's sign-in page
// (not to the provider).
func (u *renewUI) wantSignIn(res testAnswer) {
	u.t.Helper()
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/ui/login?") {
		u.t.Fatalf("probe: %d %q %s, want a redirect to /ui/login", res.status, res.location, res.body)
	}
}

// testAnswer is one response, read.
type testAnswer struct {
	status   int
	location string
	body     []byte
}

func (u *renewUI) do(method, target string, form url.Values) testAnswer {
	u.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		u.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return testAnswer{status: res.StatusCode, location: res.Header.Get("Location"), body: b}
}

// follow is where res sends the browser, absolute (from target).
func follow(target string, res testAnswer) string {
	base, _ := url.Parse(target)
	next, err := base.Parse(res.location)
	if err != nil {
		return res.location
	}
	return next.String()
}

// requireSealed requires the stored sessions to hold a refresh token,
// none of the provider's live ones in clear.
func (u *renewUI) requireSealed() {
	u.t.Helper()
	items, err := u.store.List(u.t.Context(), SessionSpace, "", 0)
	if err != nil || len(items) == 0 {
		u.t.Fatalf("%d sessions, %v", len(items), err)
	}
	u.p.mu.Lock()
	defer u.p.mu.Unlock()
	for _, it := range items {
		var s session
		if err := json.Unmarshal(it.Value, &s); err != nil || s.Refresh == "" {
			u.t.Fatalf("stored session without a refresh token: %s", it.Value)
		}
		for rt := range u.p.refresh {
			if bytes.Contains(it.Value, []byte(rt)) {
				u.t.Fatal("the store holds a refresh token in clear")
			}
		}
	}
}

// sessionCount is how many sessions the store holds.
func (u *renewUI) sessionCount() int {
	items, err := u.store.List(u.t.Context(), SessionSpace, "", 0)
	if err != nil {
		u.t.Fatal(err)
	}
	return len(items)
}

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
