package ui

import (
	"bytes"
	"context"
	"encoding/json"
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
	logw   *lockedWriter // writes logs; logged reads them while requests may write
	// cookieMaxAge is the Max-Age of the session cookie of the last sign-in.
	cookieMaxAge int
}

// probeView is what /ui/probe answers.
type probeView struct {
	Subject     string
	TeamPull    bool   // may pull team/app (the platform group's rule)
	OtherDelete bool   // may delete other/app (the admins group's rule)
	CSRF        string // the session's form token (for the sign-out)
}

// newRenewUI serves the UI over store (nil: a new one) for the provider
// p, asking for scopes; the UI is a confidential client with p's secret
// when p has one.
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
	u.logw = &lockedWriter{w: u.logs}
	logger := slog.New(slog.NewJSONHandler(u.logw, nil))
	u.h, err = New(Options{API: api.New(nil, api.Options{}, logger), Auth: auth.NewService(auth.Options{Policy: policy}),
		Sessions: u.gets, SessionTTL: 12 * time.Hour, Now: p.clock.Now, Logger: logger,
		OIDC: &OIDCLogin{Name: "Test SSO", SignIn: signIn, ClientID: testClientID, ClientSecret: p.secret, Scopes: scopes}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ui/probe", u.h.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
		_ = json.NewEncoder(w).Encode(probeView{Subject: s.Person.Subject, TeamPull: s.caller.May("team/app", "pull"),
			OtherDelete: s.caller.May("other/app", "delete"), CSRF: s.CSRF})
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

// logged is what the UI logged so far.
func (u *renewUI) logged() string {
	u.logw.mu.Lock()
	defer u.logw.mu.Unlock()
	return u.logs.String()
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
		for _, c := range res.cookies {
			if c.Name == sessionCookie {
				u.cookieMaxAge = c.MaxAge
			}
		}
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
	cookies  []*http.Cookie
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
	return testAnswer{status: res.StatusCode, location: res.Header.Get("Location"), body: b, cookies: res.Cookies()}
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
