package config

import (
	"fmt"
	"net/url"
)

// OIDCSignIn lets people sign in to the web UI with an issuer of
// auth.oidc (authorization-code flow with PKCE; docs/ui.md). Its ID
// tokens are verified like CI's, with ClientID as the audience, and the
// issuer's rules decide what the person may do.
type OIDCSignIn struct {
	Name         string   `yaml:"name"`         // on the button: "Sign in with <name>"
	ClientID     string   `yaml:"clientid"`     // required; the ID tokens' audience
	ClientSecret string   `yaml:"clientsecret"` // empty: a public client (PKCE alone)
	RedirectURL  string   `yaml:"redirecturl"`  // this UI's /ui/login/oidc/callback, as registered; "": http.host's, else the request's origin
	Scopes       []string `yaml:"scopes"`       // "openid" is always asked for
}

// maxSignInNameLen bounds the button's issuer name.
const maxSignInNameLen = 64

// validateOIDCSignIns checks the sign-in of every issuer that has one:
// at most one (the page has one button).
func validateOIDCSignIns(issuers []OIDCIssuer, bad func(key, format string, args ...any)) {
	seen := false
	for i, o := range issuers {
		s := o.SignIn
		if s == nil {
			continue
		}
		key := fmt.Sprintf("auth.oidc[%d].signin", i)
		if seen {
			bad(key, "only one issuer may offer sign-in")
		}
		seen = true
		if s.Name == "" || len(s.Name) > maxSignInNameLen {
			bad(key+".name", "must be set, at most %d characters", maxSignInNameLen)
		}
		if s.ClientID == "" {
			bad(key+".clientid", "must be set")
		}
		if s.RedirectURL == "" {
			continue
		}
		u, err := url.Parse(s.RedirectURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "/ui/login/oidc/callback" {
			bad(key+".redirecturl", "must be this registry's absolute URL of /ui/login/oidc/callback, got %q", s.RedirectURL)
		}
	}
}
