package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestOIDCSignInValidation: a sign-in needs a name and a client id, a
// redirect URL (when set) must be the callback, and one issuer at most
// offers it.
func TestOIDCSignInValidation(t *testing.T) {
	good := func() *OIDCSignIn { return &OIDCSignIn{Name: "SSO", ClientID: "ui"} }
	for name, tc := range map[string]struct {
		issuers []OIDCIssuer
		refused string
	}{
		"none":         {[]OIDCIssuer{{}}, ""},
		"minimal":      {[]OIDCIssuer{{SignIn: good()}}, ""},
		"redirect":     {[]OIDCIssuer{{SignIn: &OIDCSignIn{Name: "SSO", ClientID: "ui", RedirectURL: "https://r.example/ui/login/oidc/callback"}}}, ""},
		"no client id": {[]OIDCIssuer{{SignIn: &OIDCSignIn{Name: "SSO"}}}, "auth.oidc[0].signin.clientid"},
		"no name":      {[]OIDCIssuer{{SignIn: &OIDCSignIn{ClientID: "ui"}}}, "auth.oidc[0].signin.name"},
		"long name":    {[]OIDCIssuer{{SignIn: &OIDCSignIn{Name: strings.Repeat("x", 65), ClientID: "ui"}}}, "signin.name"},
		"other path":   {[]OIDCIssuer{{SignIn: &OIDCSignIn{Name: "SSO", ClientID: "ui", RedirectURL: "https://r.example/cb"}}}, "signin.redirecturl"},
		"relative":     {[]OIDCIssuer{{SignIn: &OIDCSignIn{Name: "SSO", ClientID: "ui", RedirectURL: "/ui/login/oidc/callback"}}}, "signin.redirecturl"},
		"two":          {[]OIDCIssuer{{SignIn: good()}, {SignIn: good()}}, "auth.oidc[1].signin"},
	} {
		var got []string
		validateOIDCSignIns(tc.issuers, func(key, format string, args ...any) { got = append(got, key+": "+fmt.Sprintf(format, args...)) })
		switch {
		case tc.refused == "" && len(got) > 0:
			t.Errorf("%s: refused: %v", name, got)
		case tc.refused != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.refused)):
			t.Errorf("%s: %v, want %s refused", name, got, tc.refused)
		}
	}
}
