package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// newOIDCService is a token service trusting o before an htpasswd file
// holding alice.
func newOIDCService(t *testing.T, o *OIDC) *Service {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(path, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadHtpasswd(path)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := NewPolicy(PolicyConfig{
		Bindings: []Binding{
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}},
			{Subjects: []string{"gitlab:group/app"}, Role: "reader", Repositories: []string{"shared/**"}},
		},
		PersonalNamespace: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	key := testKey(t)
	return NewService(Options{
		Service: "registry.test", Issuer: "imagegate",
		Signing: key, Keys: KeySet{key.KID: key.Key.Public()},
		TokenTTL: 5 * time.Minute, RefreshTTL: time.Hour,
		Authenticators: []Authenticator{o, users},
		Policy:         policy,
		Lockout:        NewLockout(5, time.Minute, time.Minute, time.Hour),
	})
}

// askToken runs a `docker login`-style token request and returns the
// status and the verified claims of the token granted.
func askToken(t *testing.T, s *Service, username, password string, scopes ...string) (int, *Claims) {
	t.Helper()
	q := url.Values{"service": {"registry.test"}, "scope": scopes}
	r := httptest.NewRequest(http.MethodGet, TokenPath+"?"+q.Encode(), nil)
	r.SetBasicAuth(username, password)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return w.Code, nil
	}
	var resp tokenResponse
	if err := json.NewDecoder(w.Body).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	c, err := s.verifier.Verify(resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	return w.Code, c
}

// TestOIDCTokenEndpoint: a CI job logs in with its ID token as password and
// gets push on its project's repositories, plus what bindings give its
// subject; htpasswd users keep working.
func TestOIDCTokenEndpoint(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("rsa")
	s := newOIDCService(t, newTestOIDC(t, ti.config()))
	idToken := ti.sign(kid, ti.claims(nil))
	scopes := []string{"repository:group/app/web:pull,push", "repository:shared/base:pull,push", "repository:other/x:pull,push", "repository:group/app2:push"}

	for _, username := range []string{"oidc", "gitlab-ci-token", "alice"} { // the username is not what proves anything
		code, c := askToken(t, s, username, idToken, scopes...)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", username, code)
		}
		want := []ResourceActions{
			{Type: "repository", Name: "group/app/web", Actions: []string{"pull", "push"}},
			{Type: "repository", Name: "shared/base", Actions: []string{"pull"}},
		}
		if c.Subject != "gitlab:group/app" || c.AuthMethod != MethodOIDC || !slices.EqualFunc(c.Access, want, sameAccess) {
			t.Fatalf("%s: granted %s to %s (%s)", username, scopesString(c.Access), c.Subject, c.AuthMethod)
		}
	}

	expired := ti.sign(kid, ti.claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }))
	if code, _ := askToken(t, s, "oidc", expired, scopes...); code != http.StatusUnauthorized {
		t.Fatalf("expired ID token: status %d", code)
	}
	code, c := askToken(t, s, "alice", "alice-pw", "repository:team/a:push")
	if code != http.StatusOK || c.Subject != "alice" || len(c.Access) != 1 {
		t.Fatalf("htpasswd user next to OIDC: %d %+v", code, c)
	}
	if code, _ := askToken(t, s, "alice", "wrong", "repository:team/a:push"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}
}

// TestOIDCNoRefresh: an ID token is never stretched into a refresh token's
// lifetime: if the service hands one out (docker login asks
// offline_token=true), using it is refused.
func TestOIDCNoRefresh(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	o := newTestOIDC(t, ti.config())
	s := newOIDCService(t, o)
	r := httptest.NewRequest(http.MethodGet, TokenPath+"?service=registry.test&offline_token=true&client_id=docker", nil)
	r.SetBasicAuth("oidc", ti.sign(kid, ti.claims(nil)))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var resp tokenResponse
	if w.Code != http.StatusOK || json.NewDecoder(w.Body).Decode(&resp) != nil {
		t.Fatalf("login: %d", w.Code)
	}
	if resp.RefreshToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {resp.RefreshToken}, "service": {"registry.test"},
			"scope": {"repository:group/app/web:pull"}}
		r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("refresh of an OIDC login: %d, want 401", w.Code)
		}
	}
	if _, err := o.Credential(t.Context(), "alice"); !errors.Is(err, ErrNotMine) {
		t.Fatalf("Credential(alice): %v, want ErrNotMine", err)
	}
}

// TestOIDCBearerOnAPI: imagegate's own API accepts the ID token as Bearer,
// within what it grants.
func TestOIDCBearerOnAPI(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	s := newOIDCService(t, newTestOIDC(t, ti.config()))
	allow := func(tok, repo string) int {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/records", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		if s.AllowPull(w, r, repo) {
			return http.StatusOK
		}
		return w.Code
	}
	tok := ti.sign(kid, ti.claims(nil))
	for repo, want := range map[string]int{"group/app/web": 200, "shared/base": 200, "other/x": 401} {
		if got := allow(tok, repo); got != want {
			t.Errorf("pull %s: %d, want %d", repo, got, want)
		}
	}
	if got := allow(tamperClaim(t, tok, "project_path", "other"), "other/x"); got != 401 {
		t.Errorf("tampered token: %d", got)
	}
}

func sameAccess(a, b ResourceActions) bool {
	return a.Type == b.Type && a.Name == b.Name && slices.Equal(a.Actions, b.Actions)
}
