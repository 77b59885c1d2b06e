package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestOIDCSignInPerson: a sign-in's ID token is accepted only for the
// client id as audience and with the sign-in's nonce; the person carries
// what the rules grant.
func TestOIDCSignInPerson(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	s, err := NewOIDCSignIn(ti.config(), "imagegate-ui", nil)
	if err != nil {
		t.Fatal(err)
	}
	good := func(c jwt.MapClaims) { c["aud"] = "imagegate-ui"; c["nonce"] = "n-1" }
	p, err := s.Person(t.Context(), ti.sign(kid, ti.claims(good)), "n-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "gitlab:group/app" || p.Method != MethodOIDC || !scopesEqual(p.Scopes, ciScope) {
		t.Fatalf("person %+v", p)
	}
	for name, tc := range map[string]struct {
		mut   func(jwt.MapClaims)
		nonce string
	}{
		"registry audience": {func(c jwt.MapClaims) { c["nonce"] = "n-1" }, "n-1"},
		"other audience":    {func(c jwt.MapClaims) { good(c); c["aud"] = "other-client" }, "n-1"},
		"wrong nonce":       {good, "n-2"},
		"no nonce claim":    {func(c jwt.MapClaims) { good(c); delete(c, "nonce") }, "n-1"},
		"no nonce expected": {func(c jwt.MapClaims) { good(c); c["nonce"] = "" }, ""},
		"no rule matches":   {func(c jwt.MapClaims) { good(c); c["namespace_path"] = "other" }, "n-1"},
	} {
		if p, err := s.Person(t.Context(), ti.sign(kid, ti.claims(tc.mut)), tc.nonce); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s: %+v %v, want bad credentials", name, p, err)
		}
	}
	if _, err := NewOIDCSignIn(ti.config(), "", nil); err == nil {
		t.Fatal("no client id accepted")
	}
}

// TestOIDCPersonCaller: a person signed in with OIDC acts with the scopes
// granted at sign-in (no htpasswd entry needed), and nothing more.
func TestOIDCPersonCaller(t *testing.T) {
	ts := newTestService(t, nil)
	p := Person{Subject: "sso:erin", Method: MethodOIDC, Scopes: []Scope{{Repositories: "team/**", Actions: []string{ActionPull}}}}
	r := httptest.NewRequest(http.MethodGet, "/ui/repositories", nil)
	c, err := ts.PersonCaller(r, p)
	if err != nil || !c.May("team/app", ActionPull) || c.May("team/app", ActionPush) || c.May("other/app", ActionPull) || c.Admin() {
		t.Fatalf("erin's caller: %+v %v", c, err)
	}
	// The same subject as an htpasswd person is not a user: signed out.
	if _, err := ts.PersonCaller(r, Person{Subject: "sso:erin", Credential: "x"}); !errors.Is(err, ErrSignedOut) {
		t.Fatalf("as a password person: %v, want ErrSignedOut", err)
	}
}

// TestOIDCSignInRenewed: an ID token from a refresh-token grant is
// verified like a sign-in's, but may omit the nonce; one it carries must
// be the sign-in's. Its claims are mapped afresh.
func TestOIDCSignInRenewed(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	s, err := NewOIDCSignIn(ti.config(), "imagegate-ui", nil)
	if err != nil {
		t.Fatal(err)
	}
	good := func(c jwt.MapClaims) { c["aud"] = "imagegate-ui"; delete(c, "nonce") }
	for name, mut := range map[string]func(jwt.MapClaims){
		"no nonce":      good,
		"sign-in nonce": func(c jwt.MapClaims) { good(c); c["nonce"] = "n-1" },
	} {
		if p, err := s.Renewed(t.Context(), ti.sign(kid, ti.claims(mut)), "n-1"); err != nil || p.Subject != "gitlab:group/app" {
			t.Errorf("%s: %+v %v", name, p, err)
		}
	}
	for name, mut := range map[string]func(jwt.MapClaims){
		"other nonce":      func(c jwt.MapClaims) { good(c); c["nonce"] = "n-2" },
		"non-string nonce": func(c jwt.MapClaims) { good(c); c["nonce"] = 1 },
		"other audience":   func(c jwt.MapClaims) { good(c); c["aud"] = "other-client" },
		"no rule matches":  func(c jwt.MapClaims) { good(c); c["namespace_path"] = "other" },
		"expired":          func(c jwt.MapClaims) { good(c); c["exp"] = time.Now().Add(-time.Hour).Unix() },
	} {
		if p, err := s.Renewed(t.Context(), ti.sign(kid, ti.claims(mut)), "n-1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s: %+v %v, want bad credentials", name, p, err)
		}
	}
}
