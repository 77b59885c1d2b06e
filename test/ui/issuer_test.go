package ui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
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

// oidcClientID is the UI's client id at the test issuer.
const oidcClientID = "imagegate-ui"

// issuer is a local OIDC provider for the browser: discovery, JWKS, an
// /authorize that signs the person in at once and sends the browser back
// with a code, and /token that checks the PKCE verifier and answers an ID
// token. tamper changes what it answers, for the refusal tests.
type issuer struct {
	t   *testing.T
	srv *httptest.Server
	key *ecdsa.PrivateKey

	mu    sync.Mutex
	codes map[string]grant // code → what /authorize was asked
	// tamper, when set, changes the next sign-ins' answers: claims of the
	// ID token, and the state sent back.
	tamper func(claims jwt.MapClaims, state *string)
	// lastCallback is the last URL /authorize sent the browser back to.
	lastCallback string
	// verified counts code exchanges whose PKCE verifier matched.
	verified int
	// logouts are the queries of the requests to the end_session_endpoint.
	logouts []url.Values
	// life is how long ID tokens live (0: 5 minutes).
	life time.Duration
	// authorizations counts the requests to /authorize.
	authorizations int
	// refresh holds the live refresh tokens (issuer_refresh_test.go).
	refresh map[string]grant
	// refreshGrants are the forms of the refresh_token grants; revocations
	// those of the requests to the revocation_endpoint.
	refreshGrants, revocations []url.Values
}

// grant is one authorization request, kept until its code is exchanged.
type grant struct {
	challenge, nonce, redirect, clientID, scope string
}

// claimsOf the person the issuer signs in: erin of the platform team.
func (is *issuer) claims(g grant) jwt.MapClaims {
	now, life := time.Now(), is.life
	if life == 0 {
		life = 5 * time.Minute
	}
	return jwt.MapClaims{"iss": is.srv.URL, "aud": g.clientID, "sub": "erin", "team": "platform", "nonce": g.nonce,
		"iat": now.Unix(), "exp": now.Add(life).Unix()}
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{t: t, key: key, codes: map[string]grant{}, refresh: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"authorization_endpoint": is.srv.URL + "/authorize", "token_endpoint": is.srv.URL + "/token",
			"end_session_endpoint": is.srv.URL + "/logout", "revocation_endpoint": is.srv.URL + "/revoke"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		b := func(n []byte) string { return base64.RawURLEncoding.EncodeToString(n) }
		x, y := make([]byte, 32), make([]byte, 32)
		is.key.X.FillBytes(x)
		is.key.Y.FillBytes(y)
		writeJSON(w, map[string]any{"keys": []map[string]string{
			{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig", "x": b(x), "y": b(y)}}})
	})
	mux.HandleFunc("GET /authorize", is.authorize)
	mux.HandleFunc("POST /token", is.token)
	mux.HandleFunc("GET /logout", is.logout)
	mux.HandleFunc("POST /revoke", is.revoke)
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// authorize checks the request is a PKCE (S256) code request with state
// and nonce, and redirects back with a new code.
func (is *issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("state") == "" || q.Get("nonce") == "" || q.Get("client_id") != oidcClientID {
		http.Error(w, "not a PKCE code request with state and nonce: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	code := rand.Text()
	state := q.Get("state")
	is.mu.Lock()
	is.authorizations++
	is.codes[code] = grant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri"),
		clientID: q.Get("client_id"), scope: q.Get("scope")}
	if is.tamper != nil {
		is.tamper(nil, &state)
	}
	back := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {state}}.Encode()
	is.lastCallback = back
	is.mu.Unlock()
	http.Redirect(w, r, back, http.StatusFound)
}

// token exchanges a code (once) for an ID token, if the verifier hashes
// to the code's challenge and the redirect_uri is the same, with a
// refresh token when offline_access was asked for; it also answers the
// refresh_token grant (refreshGrant).
func (is *issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("grant_type") == "refresh_token" {
		is.refreshGrant(w, r)
		return
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	g, ok := is.codes[r.PostForm.Get("code")]
	delete(is.codes, r.PostForm.Get("code"))
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	is.verified++
	claims := is.claims(g)
	if is.tamper != nil {
		is.tamper(claims, new(string))
	}
	answer := map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 300, "id_token": is.sign(claims)}
	if slices.Contains(strings.Fields(g.scope), "offline_access") {
		answer["refresh_token"] = is.newRefresh(g)
	}
	writeJSON(w, answer)
}

// sign signs an ID token with claims.
func (is *issuer) sign(claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(is.key)
	if err != nil {
		is.t.Errorf("issuer: signing: %v", err)
	}
	return signed
}

// setTamper sets (nil: clears) how the issuer's next answers are changed.
func (is *issuer) setTamper(f func(claims jwt.MapClaims, state *string)) {
	is.mu.Lock()
	is.tamper = f
	is.mu.Unlock()
}

// callback is the last URL the issuer sent a browser back to.
func (is *issuer) callback() string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.lastCallback
}

// exchanges is how many codes were exchanged with the right verifier.
func (is *issuer) exchanges() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.verified
}

// oidcYAML trusts the issuer for sign-in (more of auth): people of the
// platform team are developers on team/**, as "sso:<sub>".
func (is *issuer) oidcYAML() string {
	return fmt.Sprintf(`  oidc:
    - issuer: %q
      audience: https://registry.test
      usernameprefix: "sso:"
      rules:
        - claim: team
          equals: platform
          role: developer
          repositories: "team/**"
      signin:
        name: Test SSO
        clientid: %s
`, is.srv.URL, oidcClientID)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// logout is the end_session_endpoint: it records the request and sends
// the browser to its post_logout_redirect_uri.
func (is *issuer) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	is.mu.Lock()
	is.logouts = append(is.logouts, q)
	is.mu.Unlock()
	back := q.Get("post_logout_redirect_uri")
	if back == "" {
		fmt.Fprint(w, "signed out")
		return
	}
	http.Redirect(w, r, back, http.StatusFound)
}

// loggedOut returns the queries of the requests to the end_session_endpoint so far.
func (is *issuer) loggedOut() []url.Values {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([]url.Values(nil), is.logouts...)
}
