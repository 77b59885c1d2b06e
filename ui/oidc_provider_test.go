package ui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testClock is a clock the test moves: the provider's tokens, the
// verifier and the UI's sessions all read it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time         { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration)    { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func newTestClock() *testClock              { return &testClock{now: time.Now().Truncate(time.Second)} }
func (p *provider) waiting() int            { p.mu.Lock(); defer p.mu.Unlock(); return p.waiters }
func (p *provider) grants() int             { p.mu.Lock(); defer p.mu.Unlock(); return p.refreshGrants }
func (p *provider) authorizations() int     { p.mu.Lock(); defer p.mu.Unlock(); return p.authorizeHits }
func (p *provider) set(f func(p *provider)) { p.mu.Lock(); f(p); p.mu.Unlock() }
func (p *provider) lastScope() string       { p.mu.Lock(); defer p.mu.Unlock(); return p.scope }
func (p *provider) refreshTokens() []string { p.mu.Lock(); defer p.mu.Unlock(); return p.usedRefresh }

// provider is a local OpenID provider for the UI's sign-in and renewal:
// discovery, JWKS, /authorize (a PKCE S256 code request signs the person
// in at once) and /token with the authorization_code and refresh_token
// grants. Like Dex, it issues a refresh token only when offline_access
// is asked for; each refresh rotates it (the old one is then refused, as
// a revoked one is). ID tokens live tokenLife on the test clock.
type provider struct {
	t     testing.TB
	srv   *httptest.Server
	key   *ecdsa.PrivateKey
	clock *testClock

	mu sync.Mutex
	// sub and groups are the person's claims in the next ID tokens.
	sub    string
	groups []string
	// tokenLife is how long ID tokens live.
	tokenLife time.Duration
	// refreshExtra pads issued refresh tokens to test size bounds.
	refreshExtra int
	// rotate makes each refresh grant issue a new refresh token.
	rotate bool
	// secret, when set, makes the UI a confidential client: /token and
	// /revoke then authenticate it with HTTP Basic only (RFC 6749
	// §2.3.1: id and secret form-encoded, then base64), as Keycloak,
	// Okta and Entra do; the UI is registered with this secret.
	secret string
	// renewal, when set, changes the claims of a refresh grant's ID token.
	renewal func(jwt.MapClaims)
	// gate, when set, holds refresh grants until it is closed.
	gate chan struct{}
	// down answers refresh grants 503.
	down bool
	// noRevocation leaves the revocation_endpoint out of discovery.
	noRevocation bool
	// revokeGate, when set, holds revocations until it is closed;
	// revokeDown answers them 503.
	revokeGate chan struct{}
	revokeDown bool

	codes   map[string]codeGrant
	refresh map[string]string // live refresh token → the sign-in's nonce
	// counts and records
	authorizeHits, refreshGrants int
	waiters                      int // refresh grants that reached the gate
	scope                        string
	usedRefresh                  []string
	revocations                  []revocation // in the order they were answered
}

// codeGrant is one authorization request, kept until its code is used.
type codeGrant struct {
	challenge, nonce, redirect, scope string
}

func newProvider(t testing.TB, clock *testClock) *provider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{t: t, key: key, clock: clock, sub: "erin", groups: []string{"platform"}, tokenLife: 5 * time.Minute,
		rotate: true, codes: map[string]codeGrant{}, refresh: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		doc := map[string]any{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/jwks",
			"authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token"}
		if !p.noRevocation {
			doc["revocation_endpoint"] = p.srv.URL + "/revoke"
		}
		writeTestJSON(w, http.StatusOK, doc)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		b := func(n []byte) string { return base64.RawURLEncoding.EncodeToString(n) }
		x, y := make([]byte, 32), make([]byte, 32)
		p.key.X.FillBytes(x)
		p.key.Y.FillBytes(y)
		writeTestJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{
			{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig", "x": b(x), "y": b(y)}}})
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /revoke", p.revoke)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authorize takes a PKCE (S256) code request with state and nonce and
// sends the browser back with a code.
func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		http.Error(w, "not a PKCE code request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	p.mu.Lock()
	p.authorizeHits++
	p.scope = q.Get("scope")
	p.codes[code] = codeGrant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri"), scope: q.Get("scope")}
	p.mu.Unlock()
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

// token answers both grants.
func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, ok := p.client(r); !ok {
		writeTestJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f := r.PostForm
	if f.Get("grant_type") == "refresh_token" {
		p.refreshGrant(w, f.Get("refresh_token"))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code"))
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if !ok || f.Get("grant_type") != "authorization_code" || f.Get("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	answer := map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": int(p.tokenLife.Seconds()),
		"id_token": p.idToken(g.nonce, nil)}
	if slices.Contains(strings.Fields(g.scope), "offline_access") {
		answer["refresh_token"] = p.newRefresh(g.nonce)
	}
	writeTestJSON(w, http.StatusOK, answer)
}

// refreshGrant renews with a live refresh token, rotating it when set to.
func (p *provider) refreshGrant(w http.ResponseWriter, rt string) {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		p.mu.Lock()
		p.waiters++
		p.mu.Unlock()
		<-gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshGrants++
	p.usedRefresh = append(p.usedRefresh, rt)
	if p.down {
		writeTestJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	nonce, ok := p.refresh[rt]
	if !ok {
		writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "refresh token revoked"})
		return
	}
	answer := map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": int(p.tokenLife.Seconds()),
		"id_token": p.idToken(nonce, p.renewal)}
	if p.rotate {
		delete(p.refresh, rt)
		answer["refresh_token"] = p.newRefresh(nonce)
	}
	writeTestJSON(w, http.StatusOK, answer)
}

// newRefresh issues a refresh token bound to a sign-in's nonce (p.mu held).
func (p *provider) newRefresh(nonce string) string {
	rt := "rt-" + rand.Text() + strings.Repeat("x", p.refreshExtra)
	p.refresh[rt] = nonce
	return rt
}

// hold makes refresh grants wait until the returned release is called
// (once or more; at the latest when the test ends).
func (p *provider) hold() (release func()) {
	gate := make(chan struct{})
	p.set(func(p *provider) { p.gate = gate })
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	p.t.Cleanup(release) // before the server closes: no handler stays blocked
	return release
}

// revokeAll revokes every refresh token.
func (p *provider) revokeAll() { p.set(func(p *provider) { clear(p.refresh) }) }

// idToken signs the person's ID token (p.mu held), changed by mut.
func (p *provider) idToken(nonce string, mut func(jwt.MapClaims)) string {
	now := p.clock.Now()
	c := jwt.MapClaims{"iss": p.srv.URL, "aud": testClientID, "sub": p.sub, "groups": slices.Clone(p.groups), "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(p.tokenLife).Unix()}
	if mut != nil {
		mut(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(p.key)
	if err != nil {
		p.t.Errorf("provider: signing: %v", err)
	}
	return s
}

// testClientID is the UI's client id at the provider.
const testClientID = "imagegate-ui"

// client is the client a /token or /revoke request (form parsed)
// authenticates as: with p.secret, HTTP Basic with the form-encoded id
// and secret, and the request's client_id (if any) the same; without,
// the form's client_id. ok is false for anything else.
func (p *provider) client(r *http.Request) (id string, ok bool) {
	p.mu.Lock()
	secret := p.secret
	p.mu.Unlock()
	if secret == "" {
		return r.PostForm.Get("client_id"), r.PostForm.Get("client_id") == testClientID
	}
	user, pass, basic := r.BasicAuth()
	if !basic {
		return "", false
	}
	id, errID := url.QueryUnescape(user)
	got, errSecret := url.QueryUnescape(pass)
	if errID != nil || errSecret != nil || id != testClientID || got != secret {
		return "", false
	}
	if form := r.PostForm.Get("client_id"); form != "" && form != id {
		return "", false
	}
	return id, true
}
