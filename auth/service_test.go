package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"golang.org/x/crypto/bcrypt"
)

// testService is a token service over an htpasswd file and robot accounts,
// with the handles its tests need.
type testService struct {
	*Service
	htpasswd string
	users    *Htpasswd
	robots   *Robots
}

// newTestService: alice (developer on team/**) and root (admin on **) in
// htpasswd; robots in memory; refresh tokens live an hour.
func newTestService(t *testing.T, tweak func(*Options)) *testService {
	t.Helper()
	ts := &testService{htpasswd: filepath.Join(t.TempDir(), "users.htpasswd")}
	ts.writeUsers(t, map[string]string{"alice": "alice-pw", "root": "root-pw"})
	var err error
	if ts.users, err = LoadHtpasswd(ts.htpasswd); err != nil {
		t.Fatal(err)
	}
	ts.robots = NewRobots(inmemory.New())
	policy, err := NewPolicy(PolicyConfig{
		Bindings: []Binding{
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}},
			{Subjects: []string{"root"}, Role: AdminRole, Repositories: []string{"**"}},
		},
		PersonalNamespace: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	key := testKey(t)
	opts := Options{
		Service: "registry.test", Issuer: "imagegate",
		Signing: key, Keys: KeySet{key.KID: key.Key.Public()},
		TokenTTL: 5 * time.Minute, RefreshTTL: time.Hour,
		Authenticators: []Authenticator{ts.robots, ts.users},
		Policy:         policy,
		Lockout:        NewLockout(5, time.Minute, time.Minute, time.Hour),
	}
	if tweak != nil {
		tweak(&opts)
	}
	ts.Service = NewService(opts)
	return ts
}

// writeUsers (re)writes the htpasswd file with users' passwords.
func (ts *testService) writeUsers(t *testing.T, users map[string]string) {
	t.Helper()
	var b strings.Builder
	for u, pw := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(hash) + "\n")
	}
	if err := os.WriteFile(ts.htpasswd, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tokenAnswer is a decoded answer of the token endpoint.
type tokenAnswer struct {
	status  int
	body    string
	token   *Claims // verified access token
	refresh string
}

// post sends an OAuth2 form to the token endpoint from addr (RemoteAddr),
// with extra headers.
func (ts *testService) post(t *testing.T, form url.Values, addr string, header http.Header) tokenAnswer {
	t.Helper()
	form.Set("service", "registry.test")
	r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		r.Header[k] = v
	}
	if addr != "" {
		r.RemoteAddr = addr
	}
	w := httptest.NewRecorder()
	ts.ServeHTTP(w, r)
	ans := tokenAnswer{status: w.Code, body: w.Body.String()}
	if w.Code != http.StatusOK {
		return ans
	}
	var resp tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	c, err := ts.verifier.Verify(resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	ans.token, ans.refresh = c, resp.RefreshToken
	return ans
}

// login is a password grant asking for a refresh token.
func (ts *testService) login(t *testing.T, user, password string, scopes ...string) tokenAnswer {
	t.Helper()
	return ts.post(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password},
		"access_type": {"offline"}, "scope": {strings.Join(scopes, " ")}}, "", nil)
}

// refresh is a refresh grant; offline rotates the refresh token.
func (ts *testService) refresh(t *testing.T, token string, offline bool, scopes ...string) tokenAnswer {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "scope": {strings.Join(scopes, " ")}}
	if offline {
		form.Set("access_type", "offline")
	}
	return ts.post(t, form, "", nil)
}

// granted is the access of an answer's token, as scopes.
func (a tokenAnswer) granted() string {
	if a.token == nil {
		return ""
	}
	return scopesString(a.token.Access)
}

// mustPrefixes parses CIDRs for a test.
func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}
