package auth

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestOIDCLookalikeClaimRefused reproduces a finding of the red-team review
// of 2026-12-04: {claim:NAME} was lower-cased with Unicode case mapping,
// which folds look-alikes onto ASCII (KELVIN SIGN U+212A → "k", LATIN
// CAPITAL I WITH DOT U+0130 → "i"). A CI job whose project_path was
// "group/\u212Aey" got push on group/key/**, another project's
// repositories, under a rule meant to confine each project to its own
// path. Now a claim past ASCII refuses the whole token (401), as ":" or
// ".." do; ASCII capitals are still lower-cased.
func TestOIDCLookalikeClaimRefused(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	s := newOIDCService(t, newTestOIDC(t, ti.config()))
	for _, path := range []string{"group/\u212Aey", "group/\u0130nfra"} {
		idToken := ti.sign(kid, ti.claims(func(c jwt.MapClaims) { c["project_path"] = path }))
		code, c := askToken(t, s, "oidc", idToken, "repository:group/key/app:pull,push", "repository:group/infra/app:pull,push")
		if code != http.StatusUnauthorized {
			t.Errorf("project_path %q: status %d, granted %s; want 401", path, code, grantedOf(c))
		}
	}
	idToken := ti.sign(kid, ti.claims(func(c jwt.MapClaims) { c["project_path"] = "group/Key" }))
	code, c := askToken(t, s, "oidc", idToken, "repository:group/key/app:pull,push")
	if code != http.StatusOK || len(c.Access) != 1 || c.Access[0].Name != "group/key/app" {
		t.Fatalf("ASCII capitals: status %d, granted %s; want push on group/key/app", code, grantedOf(c))
	}
}

// grantedOf formats the access of c, "nothing" when there is none.
func grantedOf(c *Claims) string {
	if c == nil || len(c.Access) == 0 {
		return "nothing"
	}
	return scopesString(c.Access)
}
