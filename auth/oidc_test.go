package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testIssuer is a local OIDC issuer: discovery, a JWKS it can rotate, and
// ID tokens signed with its keys.
type testIssuer struct {
	t         testing.TB
	srv       *httptest.Server
	discovery atomic.Int64
	jwksHits  atomic.Int64
	down      atomic.Bool

	mu   sync.Mutex
	keys map[string]crypto.Signer // published
	all  map[string]crypto.Signer // ever created, to sign with retired keys
}

func newTestIssuer(t testing.TB) *testIssuer {
	ti := &testIssuer{t: t, keys: map[string]crypto.Signer{}, all: map[string]crypto.Signer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		ti.discovery.Add(1)
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ti.srv.URL, "jwks_uri": ti.srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		ti.jwksHits.Add(1)
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(ti.jwks())
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	return ti
}

// addKey creates and publishes a key of kind rsa, ec or ed25519.
func (ti *testIssuer) addKey(kind string) string {
	ti.t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ec":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		ti.t.Fatal(err)
	}
	kid := kind + "-" + randomID()[:8]
	ti.mu.Lock()
	ti.keys[kid], ti.all[kid] = k, k
	ti.mu.Unlock()
	return kid
}

func (ti *testIssuer) removeKey(kid string) {
	ti.mu.Lock()
	delete(ti.keys, kid)
	ti.mu.Unlock()
}

func (ti *testIssuer) jwks() map[string]any {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	var keys []map[string]string
	for kid, k := range ti.keys {
		keys = append(keys, publicJWK(kid, k.Public()))
	}
	return map[string]any{"keys": keys}
}

func publicJWK(kid string, pub crypto.PublicKey) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, _ := p.Bytes()
		return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(p)}
	}
	panic(fmt.Sprintf("key type %T", pub))
}

// claims are a GitLab CI job's ID token claims, changed by mut.
func (ti *testIssuer) claims(mut func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": ti.srv.URL, "aud": "https://registry.test", "sub": "project_path:group/app:ref_type:branch:ref:main",
		"namespace_path": "group", "project_path": "group/app", "ref": "main", "ref_protected": "true",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	if mut != nil {
		mut(c)
	}
	return c
}

// sign signs claims with the key kid (published or retired).
func (ti *testIssuer) sign(kid string, c jwt.MapClaims) string {
	ti.t.Helper()
	ti.mu.Lock()
	k := ti.all[kid]
	ti.mu.Unlock()
	var m jwt.SigningMethod
	switch k.(type) {
	case *rsa.PrivateKey:
		m = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		m = jwt.SigningMethodES256
	case ed25519.PrivateKey:
		m = jwt.SigningMethodEdDSA
	}
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		ti.t.Fatal(err)
	}
	return s
}

// config trusts ti the way a GitLab CI setup would.
func (ti *testIssuer) config() OIDCConfig {
	return OIDCConfig{
		Issuer: ti.srv.URL, Audience: "https://registry.test", HTTPClient: ti.srv.Client(),
		SubjectClaim: "project_path", UsernamePrefix: "gitlab:",
		Rules: []OIDCRule{{Claim: "namespace_path", Equals: "group", Role: "ci", Repositories: "{claim:project_path}/**"}},
	}
}

func newTestOIDC(t testing.TB, configs ...OIDCConfig) *OIDC {
	t.Helper()
	o, err := NewOIDC(t.Context(), configs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// testClock is a settable clock for the key cache's rate limit.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func useClock(o *OIDC, issuer string) *testClock {
	c := &testClock{now: time.Now()}
	o.issuers[issuer].keys.now = c.Now
	return c
}

var ciScope = []Scope{{Repositories: "group/app/**", Actions: []string{ActionPull, ActionPush}}}

// TestOIDCValidToken: a job's token, signed with any supported key type,
// is an identity with the rule's scope, as a password and as a bearer.
func TestOIDCValidToken(t *testing.T) {
	ti := newTestIssuer(t)
	kids := []string{ti.addKey("rsa"), ti.addKey("ec"), ti.addKey("ed25519")}
	o := newTestOIDC(t, ti.config())
	for _, kid := range kids {
		tok := ti.sign(kid, ti.claims(nil))
		for _, username := range []string{"oidc", "gitlab-ci-token", ""} {
			id, err := o.Authenticate(t.Context(), username, tok)
			if err != nil {
				t.Fatalf("%s as %q: %v", kid, username, err)
			}
			if id.Subject != "gitlab:group/app" || id.Method != MethodOIDC || !scopesEqual(id.Scopes, ciScope) {
				t.Fatalf("%s: identity %+v", kid, id)
			}
		}
		if id, err := o.AuthenticateBearer(t.Context(), tok); err != nil || id.Subject != "gitlab:group/app" {
			t.Fatalf("%s as bearer: %+v %v", kid, id, err)
		}
	}
	// aud may be a list holding ours.
	tok := ti.sign(kids[1], ti.claims(func(c jwt.MapClaims) { c["aud"] = []string{"other", "https://registry.test"} }))
	if _, err := o.Authenticate(t.Context(), "oidc", tok); err != nil {
		t.Fatalf("aud list: %v", err)
	}
	if n := ti.jwksHits.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1 (cached)", n)
	}
}

// TestOIDCRefusesBadTokens: every forged, stale or misdirected token is
// bad credentials, never an identity.
func TestOIDCRefusesBadTokens(t *testing.T) {
	ti := newTestIssuer(t)
	kid, rsaKID := ti.addKey("ec"), ti.addKey("rsa")
	other := newTestIssuer(t) // another configured issuer
	otherKID := other.addKey("ec")
	otherCfg := other.config()
	otherCfg.UsernamePrefix = "other:"
	o := newTestOIDC(t, ti.config(), otherCfg)
	now := time.Now()
	with := func(mut func(jwt.MapClaims)) string { return ti.sign(kid, ti.claims(mut)) }
	pubDER, _ := x509.MarshalPKIXPublicKey(ti.all[kid].Public())
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, ti.claims(nil))
	hs.Header["kid"] = kid
	hs256, _ := hs.SignedString(pubDER)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, ti.claims(nil))
	none.Header["kid"] = kid
	algNone, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	mismatch := jwt.NewWithClaims(jwt.SigningMethodRS256, ti.claims(nil))
	mismatch.Header["kid"] = kid // an EC key's id on an RS256 token
	rsaOnECKid, _ := mismatch.SignedString(ti.all[rsaKID])
	noKID := jwt.NewWithClaims(jwt.SigningMethodES256, ti.claims(nil))
	noKIDTok, _ := noKID.SignedString(ti.all[kid])
	good := with(nil)

	cases := map[string]string{
		"wrong aud":          with(func(c jwt.MapClaims) { c["aud"] = "https://other.test" }),
		"no aud":             with(func(c jwt.MapClaims) { delete(c, "aud") }),
		"iss of other":       with(func(c jwt.MapClaims) { c["iss"] = other.srv.URL }),
		"other's key":        other.sign(otherKID, ti.claims(nil)),
		"expired":            with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }),
		"no exp":             with(func(c jwt.MapClaims) { delete(c, "exp") }),
		"future nbf":         with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }),
		"future iat":         with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }),
		"lifetime too long":  with(func(c jwt.MapClaims) { c["exp"] = now.Add(48 * time.Hour).Unix() }),
		"long without iat":   with(func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = now.Add(48 * time.Hour).Unix() }),
		"alg none":           algNone,
		"HS256 public key":   hs256,
		"alg not key's":      rsaOnECKid,
		"unknown kid":        ti.signUnpublished(ti.claims(nil)),
		"no kid":             noKIDTok,
		"tampered":           tamperClaim(t, good, "project_path", "group/admin"),
		"no subject claim":   with(func(c jwt.MapClaims) { delete(c, "project_path") }),
		"subject not string": with(func(c jwt.MapClaims) { c["project_path"] = []string{"a"} }),
		"no rule matches":    with(func(c jwt.MapClaims) { c["namespace_path"] = "evil" }),
		"unsafe claim":       with(func(c jwt.MapClaims) { c["project_path"] = "group/../admin" }),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			id, err := o.Authenticate(t.Context(), "oidc", tok)
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			if !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("%v is not bad credentials", err)
			}
			t.Log(err)
			if _, err := o.AuthenticateBearer(t.Context(), tok); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("as bearer: %v", err)
			}
		})
	}
}

// signUnpublished signs with a key the issuer never published.
func (ti *testIssuer) signUnpublished(c jwt.MapClaims) string {
	kid := ti.addKey("ec")
	ti.removeKey(kid)
	return ti.sign(kid, c)
}

// tamperClaim changes one claim of a signed token, keeping its signature.
func tamperClaim(t *testing.T, tok, claim, value string) string {
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	c[claim] = value
	payload, _ = json.Marshal(c)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// TestOIDCNotMine: passwords that are not ID tokens of a configured issuer
// are left to the next authenticator.
func TestOIDCNotMine(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	o := newTestOIDC(t, ti.config())
	stranger := ti.sign(kid, ti.claims(func(c jwt.MapClaims) { c["iss"] = "https://stranger.test" }))
	for name, pw := range map[string]string{
		"password":      "hunter2",
		"three dots":    "a.b.c",
		"unknown iss":   stranger,
		"huge":          strings.Repeat("a", maxIDTokenBytes) + ".b.c",
		"empty":         "",
		"payload array": "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`["iss"]`)) + ".sig",
		"ISS upper":     "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"ISS":"`+ti.srv.URL+`"}`)) + ".sig",
	} {
		if _, err := o.Authenticate(t.Context(), "alice", pw); !errors.Is(err, ErrNotMine) {
			t.Errorf("%s: %v, want ErrNotMine", name, err)
		}
	}
	if n := ti.jwksHits.Load(); n != 1 {
		t.Fatalf("foreign passwords caused %d JWKS fetches", n-1)
	}
}

func TestNewOIDCRejects(t *testing.T) {
	ti := newTestIssuer(t)
	ti.addKey("ec")
	mut := func(f func(*OIDCConfig)) []OIDCConfig {
		c := ti.config()
		f(&c)
		return []OIDCConfig{c}
	}
	rule := func(r OIDCRule) func(*OIDCConfig) { return func(c *OIDCConfig) { c.Rules = []OIDCRule{r} } }
	bad := map[string][]OIDCConfig{
		"no audience":        mut(func(c *OIDCConfig) { c.Audience = "" }),
		"http issuer":        mut(func(c *OIDCConfig) { c.Issuer = "http://gitlab.example.com" }),
		"issuer not URL":     mut(func(c *OIDCConfig) { c.Issuer = "gitlab" }),
		"http jwks":          mut(func(c *OIDCConfig) { c.JWKSURL = "http://gitlab.example.com/jwks" }),
		"no prefix":          mut(func(c *OIDCConfig) { c.UsernamePrefix = "" }),
		"prefix without :":   mut(func(c *OIDCConfig) { c.UsernamePrefix = "gitlab-" }),
		"prefix with /":      mut(func(c *OIDCConfig) { c.UsernamePrefix = "git/lab:" }),
		"no rules":           mut(func(c *OIDCConfig) { c.Rules = nil }),
		"negative ttl":       mut(func(c *OIDCConfig) { c.CacheTTL = -time.Second }),
		"cafile and client":  mut(func(c *OIDCConfig) { c.CAFile = "/etc/ssl/certs/ca-certificates.crt" }),
		"missing cafile":     mut(func(c *OIDCConfig) { c.HTTPClient = nil; c.CAFile = "/nonexistent.pem" }),
		"rule without claim": mut(rule(OIDCRule{Equals: "x", Role: "ci", Repositories: "x/**"})),
		"equals and pattern": mut(rule(OIDCRule{Claim: "a", Equals: "x", Pattern: "x*", Role: "ci", Repositories: "x/**"})),
		"neither":            mut(rule(OIDCRule{Claim: "a", Role: "ci", Repositories: "x/**"})),
		"and incomplete":     mut(rule(OIDCRule{Claim: "a", Equals: "x", And: []OIDCCondition{{Claim: "b"}}})),
		"bad pattern":        mut(rule(OIDCRule{Claim: "a", Pattern: "a//b"})),
		"unknown role":       mut(rule(OIDCRule{Claim: "a", Equals: "x", Role: "wizard", Repositories: "x/**"})),
		"unknown action":     mut(rule(OIDCRule{Claim: "a", Equals: "x", Actions: []string{"fly"}, Repositories: "x/**"})),
		"role and actions":   mut(rule(OIDCRule{Claim: "a", Equals: "x", Role: "ci", Actions: []string{"pull"}, Repositories: "x/**"})),
		"grant without repo": mut(rule(OIDCRule{Claim: "a", Equals: "x", Role: "ci"})),
		"repo without grant": mut(rule(OIDCRule{Claim: "a", Equals: "x", Repositories: "x/**"})),
		"username holder":    mut(rule(OIDCRule{Claim: "a", Equals: "x", Role: "ci", Repositories: "{username}/**"})),
		"bad placeholder":    mut(rule(OIDCRule{Claim: "a", Equals: "x", Role: "ci", Repositories: "{claim:}/**"})),
		"bad repositories":   mut(rule(OIDCRule{Claim: "a", Equals: "x", Role: "ci", Repositories: "{claim:p}//x"})),
		"issuer twice":       slices.Concat(mut(func(*OIDCConfig) {}), mut(func(c *OIDCConfig) { c.UsernamePrefix = "b:" })),
		"prefix twice":       {ti.config(), func() OIDCConfig { c := newTestIssuer(t).config(); return c }()},
	}
	for name, cfgs := range bad {
		if _, err := NewOIDC(t.Context(), cfgs, nil); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// A custom role of the policy resolves.
	c := ti.config()
	c.Roles = map[string][]string{"pusher": {ActionPush}}
	c.Rules[0].Role = "pusher"
	o := newTestOIDC(t, c)
	id, err := o.Authenticate(t.Context(), "oidc", ti.sign(sortedKeyIDs(o.issuers[ti.srv.URL].keys.keys)[0], ti.claims(nil)))
	if err != nil || !scopesEqual(id.Scopes, []Scope{{Repositories: "group/app/**", Actions: []string{ActionPush}}}) {
		t.Fatalf("custom role: %+v %v", id, err)
	}
}

func scopesEqual(a, b []Scope) bool {
	return slices.EqualFunc(a, b, func(x, y Scope) bool {
		return x.Repositories == y.Repositories && slices.Equal(x.Actions, y.Actions)
	})
}
