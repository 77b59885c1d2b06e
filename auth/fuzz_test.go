package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/distribution/reference"
)

// FuzzParseScope: a scope that parses names a valid repository (or the
// catalog) and only non-empty, trimmed actions, and its String form
// parses back to the same scope.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"repository:team/app:pull,push", "registry:catalog:*", "repository(plugin):team/app:pull",
		"repository:localhost:5000/team/app:pull", "repository:team/app: pull , ,push", "repository:team/app:",
		"repository:Team/App:pull", "repository:../etc:pull", "repository:team/app", "registry:catalog:a:b",
		"repository:a%2fb:pull", "repository(:a:pull", ":::", "repository:" + strings.Repeat("a/", 200) + "b:pull",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, scope string) {
		ra, err := ParseScope(scope)
		if err != nil {
			return
		}
		switch ra.Type {
		case "repository":
			if _, err := reference.WithName(ra.Name); err != nil {
				t.Fatalf("%q: parsed to invalid repository %q", scope, ra.Name)
			}
		case "registry":
			if ra.Name != "catalog" {
				t.Fatalf("%q: parsed to registry resource %q", scope, ra.Name)
			}
		default:
			t.Fatalf("%q: parsed to type %q", scope, ra.Type)
		}
		if len(ra.Actions) == 0 {
			t.Fatalf("%q: parsed with no action", scope)
		}
		for _, a := range ra.Actions {
			if a == "" || a != strings.TrimSpace(a) || strings.ContainsAny(a, ",:") {
				t.Fatalf("%q: parsed to action %q", scope, a)
			}
		}
		again, err := ParseScope(ra.String())
		if err != nil || again.Type != ra.Type || again.Name != ra.Name || !slices.Equal(again.Actions, ra.Actions) {
			t.Fatalf("%q → %q does not parse back the same: %+v, %v", scope, ra.String(), again, err)
		}
	})
}

// FuzzIssueVerify: whatever the identity and access, a token the issuer
// signs verifies to exactly the claims it was given, an access token is
// never taken for a refresh token (FuzzVerify has the reverse), and any single-byte
// change to the claims or header is refused.
func FuzzIssueVerify(f *testing.F) {
	key := testKey(f)
	f.Add("alice", "password", "team/app", "pull,push", "developer", false, 10, byte('x'))
	f.Add("robot$ci", MethodRobot, "team/app", "pull", "", false, 0, byte(0))
	f.Add("gitlab:group/app", MethodOIDC, "group/app/web", "*", "ci,reader", true, 200, byte('.'))
	f.Add("ü\u2028\"", "", "", "", ",", true, -1, byte('='))
	f.Fuzz(func(t *testing.T, subject, method, repo, actions, roles string, admin bool, at int, b byte) {
		for _, s := range []string{subject, method, repo, actions, roles} {
			if !utf8.ValidString(s) { // JSON cannot carry it; authenticators never produce it
				return
			}
		}
		is := NewIssuer(key, "imagegate", "registry.test", 5*time.Minute, time.Hour)
		v := NewVerifier(KeySet{key.KID: key.Key.Public()}, "imagegate", "registry.test")
		id := Identity{Subject: subject, Method: method, Roles: splitList(roles), Admin: admin}
		access := []ResourceActions{{Type: "repository", Name: repo, Actions: splitList(actions)}}
		tok, _, err := is.Issue(id, access)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(tok)
		if subject == "" {
			if err == nil {
				t.Fatal("a token without subject verified")
			}
			return
		}
		if err != nil {
			t.Fatalf("own token refused: %v", err)
		}
		if c.Subject != subject || c.AuthMethod != method || c.Admin != admin || !slices.Equal(c.Roles, id.Roles) ||
			len(c.Access) != 1 || c.Access[0].Name != repo || !slices.Equal(c.Access[0].Actions, access[0].Actions) {
			t.Fatalf("claims changed on the way: %+v", c)
		}
		if _, err := v.VerifyRefresh(tok); !errors.Is(err, ErrTokenKind) {
			t.Fatalf("access token taken as a refresh token: %v", err)
		}
		// Change one byte of the signed part (header or claims).
		signed := strings.LastIndex(tok, ".")
		i := at % signed
		if i < 0 {
			i += signed
		}
		if tok[i] == b {
			return
		}
		forged := tok[:i] + string([]byte{b}) + tok[i+1:]
		if c, err := NewVerifier(KeySet{key.KID: key.Key.Public()}, "imagegate", "registry.test").Verify(forged); err == nil {
			t.Fatalf("a token changed at byte %d verified: %+v", i, c)
		} else if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenKind) {
			t.Fatalf("refusal is not a token error: %v", err)
		}
	})
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// FuzzVerify feeds the verifier arbitrary tokens. Invariants: every
// refusal is a token error (answered with a challenge); a token is only
// ever accepted when its header and claims are exactly ones the issuer
// signed — nothing can be forged, whatever the encoding tricks.
func FuzzVerify(f *testing.F) {
	key := testKey(f)
	is := NewIssuer(key, "imagegate", "registry.test", 5*time.Minute, time.Hour)
	signed := map[string]bool{}
	issue := func(id Identity) string {
		tok, _, err := is.Issue(id, pullA)
		if err != nil {
			f.Fatal(err)
		}
		signed[signedPart(tok)] = true
		return tok
	}
	good := issue(Identity{Subject: "alice", Method: "password"})
	f.Add(good)
	f.Add(issue(Identity{Subject: "robot$ci", Method: MethodRobot, Admin: true}))
	f.Add(fuzzRefreshToken(f, key)) // never signed into the set: Verify must refuse it
	f.Add(good + "=")
	f.Add(strings.Replace(good, ".", "=.", 1))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		v := NewVerifier(KeySet{key.KID: key.Key.Public()}, "imagegate", "registry.test")
		c, err := v.Verify(token)
		if err != nil {
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenKind) {
				t.Fatalf("refusal is not a token error: %v", err)
			}
			return
		}
		if !signed[signedPart(token)] {
			t.Fatalf("accepted a token the issuer never signed: %q → %+v", token, c)
		}
		if c.Subject == "" || c.Use != "" || c.ExpiresAt == nil {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

// fuzzUsers authenticates alice (password "pw") and the robot robot$ci
// (password "robot-pw", push on ci/**), and remembers who proved it.
type fuzzUsers struct{ proved map[string]bool }

func (u *fuzzUsers) Authenticate(_ context.Context, username, password string) (Identity, error) {
	switch {
	case username == "alice" && password == "pw":
		u.proved["alice"] = true
		return Identity{Subject: "alice", Method: "password"}, nil
	case username == "robot$ci" && password == "robot-pw":
		u.proved["robot$ci"] = true
		return fuzzRobot, nil
	case username == "alice" || username == "robot$ci":
		return Identity{}, ErrBadCredentials
	}
	return Identity{}, ErrNotMine
}

var fuzzRobot = Identity{Subject: "robot$ci", Method: MethodRobot,
	Scopes: []Scope{{Repositories: "ci/**", Actions: []string{ActionPull, ActionPush}}}}

// FuzzTokenEndpoint sends /auth/token arbitrary GET and POST requests.
// Invariants: the answer is never a 5xx; a refusal is a 4xx with an OCI
// error body; a token names anonymous or a subject that proved itself in
// this request (password or refresh token), and grants no more than the
// policy allows that subject.
func FuzzTokenEndpoint(f *testing.F) {
	key := testKey(f)
	policy, err := NewPolicy(PolicyConfig{
		Bindings:          []Binding{{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}}},
		PersonalNamespace: true,
		AnonymousPull:     []string{"public/**"},
	})
	if err != nil {
		f.Fatal(err)
	}
	refresh := fuzzRefreshToken(f, key)
	f.Add("GET", "service=registry.test&scope=repository:team/app:pull,push", "", "alice", "pw", true)
	f.Add("GET", "scope=repository:team/app:pull+registry:catalog:*&scope=repository:alice/x:*&offline_token=true", "", "alice", "pw", true)
	f.Add("GET", "scope=repository:public/app:pull,push&scope=repository:team/app:pull", "", "", "", false)
	f.Add("GET", "scope=repository:ci/app:push,delete", "", "robot$ci", "robot-pw", true)
	f.Add("GET", "scope=repository:team/app:pull", "", "alice", "wrong", true)
	f.Add("POST", "", "grant_type=password&username=alice&password=pw&access_type=offline&scope=repository:alice/app:push", "", "", false)
	f.Add("POST", "", "grant_type=refresh_token&refresh_token="+refresh+"&scope=repository:team/app:pull", "", "", false)
	f.Add("POST", "", "grant_type=client_credentials", "", "", false)
	f.Add("GET", "service=other&scope=repository:team/app:pull", "", "", "", false)
	f.Add("GET", "scope=repository:Team/../app:pull", "", "", "", false)
	f.Add("DELETE", "", "", "", "", false)
	f.Fuzz(func(t *testing.T, method, query, body, user, pass string, basic bool) {
		users := &fuzzUsers{proved: map[string]bool{}}
		s := fuzzService(key, users, policy)
		r, err := http.NewRequest(method, "http://registry.test"+TokenPath+"?"+query, strings.NewReader(body))
		if err != nil {
			return // not a request a server could receive
		}
		r.RemoteAddr = "192.0.2.1:4000"
		if method == http.MethodPost {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if basic {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			requireOCIError(t, w)
			return
		}
		var resp tokenResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Token == "" || resp.Token != resp.AccessToken {
			t.Fatalf("200 without a token: %s", w.Body)
		}
		c, err := s.verifier.Verify(resp.Token)
		if err != nil {
			t.Fatalf("the service's own token does not verify: %v", err)
		}
		var id *Identity
		switch {
		case c.Subject == "anonymous" && c.AuthMethod == "anonymous":
		case users.proved[c.Subject]:
			id = &Identity{Subject: c.Subject, Method: c.AuthMethod}
			if c.Subject == fuzzRobot.Subject {
				id = &fuzzRobot
			}
		case c.Subject == "alice" && method == http.MethodPost && signedPart(form(body).Get("refresh_token")) == signedPart(refresh):
			id = &Identity{Subject: "alice", Method: "password"}
		default:
			t.Fatalf("token for %q (%s), who did not prove it in this request", c.Subject, c.AuthMethod)
		}
		for _, ra := range c.Access {
			if ra.Type == "registry" {
				if ra.Name != "catalog" || !slices.Equal(ra.Actions, []string{"*"}) {
					t.Fatalf("granted %s", ra)
				}
				continue
			}
			allowed := policy.Allowed(id, ra.Name)
			for _, a := range ra.Actions {
				if !slices.Contains(allowed, a) {
					t.Fatalf("granted %s to %s, who may only %v", ra, c.Subject, allowed)
				}
			}
		}
		if resp.RefreshToken != "" {
			if id == nil || id.Method == MethodOIDC {
				t.Fatalf("refresh token for %+v", id)
			}
			if rc, err := s.verifier.VerifyRefresh(resp.RefreshToken); err != nil || rc.Subject != c.Subject {
				t.Fatalf("refresh token: %+v %v", rc, err)
			}
		}
	})
}

// fuzzService is a token service for registry.test signing with key,
// with users as its only authenticator.
func fuzzService(key *SigningKey, users Authenticator, policy *Policy) *Service {
	return NewService(Options{
		Service: "registry.test", Issuer: "imagegate",
		Signing: key, Keys: KeySet{key.KID: key.Key.Public()},
		TokenTTL: 5 * time.Minute, RefreshTTL: time.Hour,
		Authenticators: []Authenticator{users},
		Policy:         policy,
		Lockout:        NewLockout(5, time.Minute, time.Minute, time.Hour),
	})
}

// fuzzRefreshToken is the refresh token a `docker login` of alice gets
// from a service signing with key (asked of the endpoint, whatever the
// issuer's internals).
func fuzzRefreshToken(tb testing.TB, key *SigningKey) string {
	tb.Helper()
	policy, err := NewPolicy(PolicyConfig{PersonalNamespace: true})
	if err != nil {
		tb.Fatal(err)
	}
	s := fuzzService(key, &fuzzUsers{proved: map[string]bool{}}, policy)
	r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader("grant_type=password&username=alice&password=pw&access_type=offline&service=registry.test"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var resp tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.RefreshToken == "" {
		tb.Fatalf("no refresh token for alice: %d %s", w.Code, w.Body)
	}
	return resp.RefreshToken
}

// signedPart is a token's header and claims, what its signature covers.
func signedPart(token string) string {
	i := strings.LastIndex(token, ".")
	if i < 0 {
		return ""
	}
	return token[:i]
}

// form parses a form body as the token endpoint does.
func form(body string) url.Values {
	v, _ := url.ParseQuery(body)
	return v
}

// requireOCIError fails unless w holds a 4xx answer with an OCI error body.
func requireOCIError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code < 400 || w.Code > 499 {
		t.Fatalf("answered %d: %s", w.Code, w.Body)
	}
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code == "" {
		t.Fatalf("%d without an OCI error body: %q", w.Code, w.Body)
	}
}
