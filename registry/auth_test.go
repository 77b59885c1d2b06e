package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/crypto/bcrypt"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

// writeHtpasswd writes users (name → password) with bcrypt hashes.
func writeHtpasswd(t *testing.T, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(u + ":" + string(h) + "\n")
	}
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var testUsers = map[string]string{"root": "root-pw", "alice": "alice-pw", "bob": "bob-pw"}

// startAuthServer starts a server with auth on and testUsers bound: root
// admin everywhere, alice developer and bob reader on team/**; more adjust
// the configuration further.
func startAuthServer(t *testing.T, more ...func(*config.Config)) *testServer {
	return startAuthServerWith(t, nil, more...)
}

// startUsersServer starts a server with auth on and users (name →
// password) in its htpasswd file; more adjust the configuration further.
func startUsersServer(t *testing.T, users map[string]string, opts []Option, more ...func(*config.Config)) *testServer {
	htpasswd := writeHtpasswd(t, users)
	return startServer(t, func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing.pem")
		for _, m := range more {
			m(c)
		}
	}, opts...)
}

// startAuthServerWith is startAuthServer with server options.
func startAuthServerWith(t *testing.T, opts []Option, more ...func(*config.Config)) *testServer {
	return startUsersServer(t, testUsers, opts, func(c *config.Config) {
		c.Auth.Bindings = []config.AuthBinding{
			{Subjects: []string{"root"}, Role: "admin", Repositories: []string{"**"}},
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}},
			{Subjects: []string{"bob"}, Role: "reader", Repositories: []string{"team/**"}},
		}
		c.Auth.AnonymousPull = []string{"public/**"}
		c.Auth.Lockout.MaxFailures = 3
		for _, m := range more {
			m(c)
		}
	})
}

func as(user string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: testUsers[user]})
}

func statusOf(err error) int {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode
	}
	return 0
}

// TestAuthPushPullByRole runs the Docker token flow with go-containerregistry.
func TestAuthPushPullByRole(t *testing.T) {
	s := startAuthServer(t)
	img, _ := random.Image(512, 2)
	ref, _ := name.ParseReference(s.host()+"/team/app:v1", name.Insecure)

	if err := remote.Write(ref, img, as("alice")); err != nil {
		t.Fatalf("alice (developer) push: %v", err)
	}
	if _, err := remote.Image(ref, as("bob")); err != nil {
		t.Fatalf("bob (reader) pull: %v", err)
	}
	other, _ := random.Image(512, 1)
	// No token would let bob push: 403 naming who may do what, not a
	// challenge to log in again.
	if err := remote.Write(ref, other, as("bob")); statusOf(err) != http.StatusForbidden ||
		!strings.Contains(err.Error(), "bob may pull but not push to team/app; ask an administrator for a role that grants push on team/app") {
		t.Fatalf("bob (reader) push: %v, want 403 naming bob, push and team/app", err)
	}
	if _, err := remote.Image(ref); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("anonymous pull of team/app: %v, want 401", err)
	}
	elsewhere, _ := name.ParseReference(s.host()+"/other/app:v1", name.Insecure)
	// The client's first request there is a HEAD, whose answer has no
	// body: the reason is in the challenge's error_description (docker and
	// skopeo print it), so the answer stays 401.
	if err := remote.Write(elsewhere, img, as("alice")); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("alice push outside team/: %v, want 401", err)
	}
	status, hdr, _ := do(t, "HEAD", s.base+"/v2/other/app/blobs/sha256:"+strings.Repeat("0", 64), http.Header{"Authorization": {"Bearer " + token(t, s, "alice", "repository:other/app:pull")}}, nil)
	if status != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"),
		`error="insufficient_scope",error_description="alice may not pull from other/app (no access to it at all); ask an administrator for a role that grants pull on other/app"`) {
		t.Fatalf("HEAD by alice outside team/: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	status, _, body := do(t, "POST", s.base+"/v2/other/app/blobs/uploads/", http.Header{"Authorization": {"Bearer " + token(t, s, "alice", "repository:other/app:pull,push")}}, nil)
	if status != http.StatusForbidden || !strings.Contains(string(body), "alice may not pull or push to other/app (no access to it at all); ask an administrator for a role that grants pull and push on other/app") {
		t.Fatalf("POST by alice outside team/: %d %s", status, body)
	}
	personal, _ := name.ParseReference(s.host()+"/alice/tool:v1", name.Insecure)
	if err := remote.Write(personal, img, as("alice")); err != nil {
		t.Fatalf("alice push to her namespace: %v", err)
	}
	public, _ := name.ParseReference(s.host()+"/public/base:v1", name.Insecure)
	if err := remote.Write(public, img, as("root")); err != nil {
		t.Fatalf("root push: %v", err)
	}
	if _, err := remote.Image(public); err != nil {
		t.Fatalf("anonymous pull of public/: %v", err)
	}

	// The record knows who pushed.
	page, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app"})
	if len(page.Records) != 1 || page.Records[0].User.Subject != "alice" || page.Records[0].User.Method != "password" {
		t.Fatalf("record user: %+v", page.Records[0].User)
	}
	found := false
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "request" && l["user"] == "alice" && l["route"] == "manifest" {
			found = true
		}
	}
	if !found {
		t.Fatal("no access line names the user")
	}
}

// token asks the token service for scope as user ("" for anonymous).
func token(t *testing.T, s *testServer, user, scope string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/auth/token?service=imagegate&scope="+url.QueryEscape(scope), nil)
	if user != "" {
		req.SetBasicAuth(user, testUsers[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tr) != nil {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	return tr.Token
}

func TestAuthChallengesAndScopes(t *testing.T) {
	s := startAuthServer(t)
	pushN(t, &testServer{Server: s.Server, base: s.base, logs: s.logs}, "team/a", "v1", 0)

	status, hdr, _ := do(t, "GET", s.base+"/v2/", nil, nil)
	if status != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="`+s.base+`/auth/token",service="imagegate"`) {
		t.Fatalf("base challenge: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	status, hdr, _ = do(t, "GET", s.base+"/v2/team/a/tags/list", nil, nil)
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `scope="repository:team/a:pull"`) {
		t.Fatalf("repository challenge: %d %q", status, hdr.Get("WWW-Authenticate"))
	}

	tokA := token(t, s, "alice", "repository:team/a:pull")
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	if status, _, body := do(t, "GET", s.base+"/v2/team/a/tags/list", bearer(tokA), nil); status == 401 {
		t.Fatalf("token for team/a refused on team/a: %s", body)
	}
	status, hdr, _ = do(t, "GET", s.base+"/v2/team/b/tags/list", bearer(tokA), nil)
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("token for team/a used on team/b: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	// alice may push team/a, her token only lacks it: a challenge to get
	// a token that has it, with a body that says so.
	status, hdr, body := do(t, "POST", s.base+"/v2/team/a/blobs/uploads/", bearer(tokA), nil)
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(string(body), `"message":"authentication required: the token of alice lacks push on team/a; ask the token service for it","detail":{"scope":"repository:team/a:pull,push"}`) {
		t.Fatalf("push with a pull-only token: %d %q %s", status, hdr.Get("WWW-Authenticate"), body)
	}
	status, hdr, _ = do(t, "GET", s.base+"/v2/team/a/tags/list", bearer(tokA+"x"), nil)
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("tampered signature: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	// Asking for more than allowed yields a token with less, not an error.
	tokBob := token(t, s, "bob", "repository:team/a:pull,push,delete")
	if status, hdr, body := do(t, "POST", s.base+"/v2/team/a/blobs/uploads/", bearer(tokBob), nil); status != 403 ||
		hdr.Get("WWW-Authenticate") != "" || !strings.Contains(string(body), `"code":"DENIED","message":"bob may pull but not push to team/a`) {
		t.Fatalf("bob pushed with a token he asked push for: %d %s", status, body)
	}
	// Bad scopes are refused outright.
	for _, scope := range []string{"repository:../etc:pull", "repository:team%2F..%2Fx:pull", "repository:Team/A:pull"} {
		req, _ := http.NewRequest("GET", s.base+"/auth/token?scope="+url.QueryEscape(scope), nil)
		req.SetBasicAuth("alice", testUsers["alice"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("scope %q: %d, want 400", scope, resp.StatusCode)
		}
	}
	// Catalog: filtered to what the caller may pull.
	for _, repo := range []string{"team/a", "alice/tool", "other/x"} {
		ref, _ := name.ParseReference(s.host()+"/"+repo+":v1", name.Insecure)
		img, _ := random.Image(128, 1)
		if err := remote.Write(ref, img, as("root")); err != nil {
			t.Fatal(err)
		}
	}
	catalog := func(user string) string {
		status, _, body := do(t, "GET", s.base+"/v2/_catalog", bearer(token(t, s, user, "registry:catalog:*")), nil)
		if status != 200 {
			t.Fatalf("%s listing the catalog: %d %s", user, status, body)
		}
		return strings.TrimSpace(string(body))
	}
	if got := catalog("alice"); got != `{"repositories":["alice/tool","team/a"]}` {
		t.Fatalf("alice's catalog: %s", got)
	}
	if got := catalog("bob"); got != `{"repositories":["team/a"]}` {
		t.Fatalf("bob's catalog: %s", got)
	}
	if got := catalog("root"); got != `{"repositories":["alice/tool","other/x","team/a"]}` {
		t.Fatalf("root's catalog: %s", got)
	}
}

func TestAuthOAuthAndRefresh(t *testing.T) {
	s := startAuthServer(t)
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"},
		"service": {"imagegate"}, "scope": {"repository:team/a:pull"}, "client_id": {"test"}, "access_type": {"offline"}}
	var tr struct {
		Token, AccessToken, RefreshToken string
		ExpiresIn                        int `json:"expires_in"`
	}
	post := func(f url.Values) int {
		resp, err := http.PostForm(s.base+"/auth/token", f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		tr.RefreshToken = ""
		var raw map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		tr.Token, _ = raw["token"].(string)
		tr.AccessToken, _ = raw["access_token"].(string)
		tr.RefreshToken, _ = raw["refresh_token"].(string)
		if e, ok := raw["expires_in"].(float64); ok {
			tr.ExpiresIn = int(e)
		}
		return resp.StatusCode
	}
	if st := post(form); st != 200 || tr.RefreshToken == "" || tr.Token != tr.AccessToken || tr.ExpiresIn != 300 {
		t.Fatalf("password grant: %d %+v", st, tr)
	}
	refresh := tr.RefreshToken
	if st := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "service": {"imagegate"},
		"scope": {"repository:team/a:pull"}}); st != 200 || tr.Token == "" {
		t.Fatalf("refresh grant: %d", st)
	}
	if st := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.Token}}); st != 401 {
		t.Fatalf("an access token used as a refresh token: %d", st)
	}
	if st := post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"}}); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	if st := post(url.Values{"grant_type": {"client_credentials"}}); st != 400 {
		t.Fatalf("unknown grant: %d", st)
	}
}

// TestAuthLockout: repeated failures lock the user out from that address,
// with Retry-After, even for the right password; other users behind the
// same address are unaffected (issue 12 finding 7: they were locked out
// too, admins included).
func TestAuthLockout(t *testing.T) {
	s := startAuthServer(t)
	try := func(user, pw string) (int, string) {
		req, _ := http.NewRequest("GET", s.base+"/auth/token?service=imagegate", nil)
		req.SetBasicAuth(user, pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 3 {
		if st, _ := try("bob", "guess"); st != 401 {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	if st, retry := try("bob", "bob-pw"); st != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("after 3 failures: %d retry-after %q", st, retry)
	}
	for _, u := range []string{"alice", "root"} {
		if st, _ := try(u, testUsers[u]); st != http.StatusOK {
			t.Fatalf("same address, other user %s: %d, want 200", u, st)
		}
	}
}

func TestAuthProtectsAPI(t *testing.T) {
	s := startAuthServer(t)
	status, hdr, _ := do(t, "GET", s.base+"/api/v1/pushes?repository=team/a", nil, nil)
	if status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `scope="registry:catalog:*"`) { // the API's one scope
		t.Fatalf("API without token: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	bob := http.Header{"Authorization": {"Bearer " + token(t, s, "bob", "repository:team/a:pull")}}
	if status, _, body := do(t, "GET", s.base+"/api/v1/pushes?repository=team/a", bob, nil); status != 200 {
		t.Fatalf("API with a pull token: %d %s", status, body)
	}
	bobAll := http.Header{"Authorization": {"Bearer " + token(t, s, "bob", "registry:catalog:*")}}
	if status, _, body := do(t, "GET", s.base+"/api/v1/pushes", bobAll, nil); status != http.StatusForbidden ||
		!strings.Contains(string(body), "DENIED") {
		t.Fatalf("all records as a non-admin: %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", s.base+"/api/v1/pushes", bob, nil); status != http.StatusUnauthorized {
		t.Fatalf("all records with a token lacking the scope: %d", status)
	}
	root := http.Header{"Authorization": {"Bearer " + token(t, s, "root", "registry:catalog:*")}}
	if status, _, _ := do(t, "GET", s.base+"/api/v1/pushes", root, nil); status != 200 {
		t.Fatalf("all records as admin: %d", status)
	}
}

// TestAuthReload: a reload swaps the bindings; new tokens follow them.
func TestAuthReload(t *testing.T) {
	s := startAuthServer(t)
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(s.host()+"/team/reload:v1", name.Insecure)
	if err := remote.Write(ref, img, as("bob")); statusOf(err) != http.StatusForbidden {
		t.Fatalf("bob pushed before being made developer: %v, want 403", err)
	}
	cfg := *s.cfg
	cfg.Auth.Bindings = append([]config.AuthBinding{{Subjects: []string{"bob"}, Role: "developer", Repositories: []string{"team/**"}}}, cfg.Auth.Bindings...)
	if err := s.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, as("bob")); err != nil {
		t.Fatalf("bob push after the reload: %v", err)
	}
	bad := cfg
	bad.Auth.Bindings = []config.AuthBinding{{Subjects: []string{"bob"}, Role: "wizard", Repositories: []string{"**"}}}
	if err := s.Reload(&bad); err == nil {
		t.Fatal("a reload with an unknown role was applied")
	}
	if err := remote.Write(ref, img, as("bob")); err != nil {
		t.Fatalf("a failed reload changed the rules in force: %v", err)
	}
}

// pushAs pushes a small random image to repo:v1 as user.
func pushAs(t *testing.T, s *testServer, repo, user string) {
	t.Helper()
	img, _ := random.Image(128, 1)
	ref, _ := name.ParseReference(s.host()+"/"+repo+":v1", name.Insecure)
	if err := remote.Write(ref, img, as(user)); err != nil {
		t.Fatalf("%s push %s: %v", user, repo, err)
	}
}

// TestCatalogPagesNameNoHiddenRepository reproduces issue 12 finding 8:
// the filtered catalog kept distribution's Link header, whose last= named
// the last repository of the unfiltered page, so walking ?n=1 revealed
// every repository name. Now every name in a body or a Link is one the
// caller may pull, and the walk still reaches every visible repository.
func TestCatalogPagesNameNoHiddenRepository(t *testing.T) {
	s := startAuthServer(t)
	for _, repo := range []string{"aaa/secret", "mmm/hidden", "team/app", "team/web", "zzz/secret"} {
		pushAs(t, s, repo, "root")
	}
	visible := map[string]bool{"team/app": true, "team/web": true}
	hdr := http.Header{"Authorization": {"Bearer " + token(t, s, "alice", "registry:catalog:*")}}
	next, seen := "/v2/_catalog?n=1", []string{}
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatalf("the walk does not end: %v", seen)
		}
		status, h, body := do(t, "GET", s.base+next, hdr, nil)
		var page struct{ Repositories []string }
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET %s: %d %s", next, status, body)
		}
		seen = append(seen, page.Repositories...)
		for _, secret := range []string{"aaa", "mmm", "zzz"} {
			if strings.Contains(h.Get("Link"), secret) || strings.Contains(string(body), secret) {
				t.Fatalf("page %s reveals %s/…: Link %q body %s", next, secret, h.Get("Link"), body)
			}
		}
		next = ""
		if l := h.Get("Link"); l != "" {
			next = strings.TrimPrefix(strings.Split(l, ">")[0], "<")
		}
	}
	if len(seen) != len(visible) || !visible[seen[0]] || !visible[seen[1]] {
		t.Fatalf("alice's walk saw %v, want team/app and team/web", seen)
	}
}

// TestCatalogFailsClosed reproduces finding 8: a catalog page the filter
// could not parse was passed on unfiltered. Now it answers 503.
func TestCatalogFailsClosed(t *testing.T) {
	unparsable := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"repositories": ["secret/one", `)) // truncated
	})
	h := filterCatalog(unparsable, func(*http.Request) func(string) bool { return func(string) bool { return false } })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v2/_catalog", nil))
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "secret") ||
		!strings.Contains(w.Body.String(), `"UNAVAILABLE"`) {
		t.Fatalf("unparsable page: %d %s, want 503 UNAVAILABLE without the names", w.Code, w.Body)
	}
}

// TestRealmFromExternalURL reproduces finding 8: the token realm was built
// from the request's Host header even with http.host set, so a forged Host
// sent clients' credentials elsewhere. With http.host set it names the
// realm; challenges are never cacheable.
func TestRealmFromExternalURL(t *testing.T) {
	htpasswd := writeHtpasswd(t, testUsers)
	s := startServer(t, func(c *config.Config) {
		c.HTTP.Host = "https://registry.example.test"
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing.pem")
	})
	req, _ := http.NewRequest("GET", s.base+"/v2/", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(ch, `realm="https://registry.example.test/auth/token"`) {
		t.Fatalf("challenge with a forged Host: %d %q", resp.StatusCode, ch)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("challenge Cache-Control %q, want no-store", cc)
	}
}
