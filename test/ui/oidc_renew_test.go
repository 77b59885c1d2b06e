package ui

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// idTokenLife is how long the renewal test's ID tokens live: the session
// renews them a quarter of that before they expire (ui's renewDue).
const idTokenLife = 4 * time.Second

// TestUIOIDCRenewal: a person signed in with the issuer (asking for
// offline_access) keeps browsing past the ID token's expiry: the server
// renews the session with the refresh token (a refresh_token grant at the
// issuer) and the browser is never sent to the issuer or the sign-in
// page, on the same session cookie. Signing out revokes the refresh token
// the issuer rotated to at its revocation_endpoint, and the old cookie no
// longer works.
func TestUIOIDCRenewal(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	chromium := liveserver.RequireBinary(t, "IMAGEGATE_CHROMIUM")
	is := newIssuer(t)
	is.setLife(idTokenLife)
	alice := map[string]string{"alice": users["alice"]}
	srv := liveserver.StartWithConfig(t, bin,
		liveserver.TeamAuthYAML(liveserver.WriteHtpasswd(t, alice), t.TempDir())+is.oidcYAMLScopes("offline_access"))
	base := srv.URL
	b := newBrowser(t, chromium)
	tb := b.newTab(t)

	tb.open(base + "/ui/login")
	if status := tb.follow(chromedp.Click(chromedp.CSS("#oidc-signin"))); status != http.StatusOK {
		t.Fatalf("sign-in with the issuer ended with %d", status)
	}
	if loc := tb.location(); loc != base+"/ui/repositories" {
		t.Fatalf("after the issuer's sign-in at %s, want /ui/repositories", loc)
	}
	cookie := sessionCookie(tb)
	if cookie == nil {
		t.Fatal("no session cookie after the issuer's sign-in")
	}
	if len(is.liveRefresh()) != 1 {
		t.Fatalf("the issuer issued %d refresh tokens, want 1 (offline_access asked for)", len(is.liveRefresh()))
	}
	authorizations, _ := is.counts()
	// The ID token was issued before now: it has expired by then.
	signedIn := time.Now()
	expired := signedIn.Add(idTokenLife)

	// Browse until the issuer renewed the session and the first ID token
	// has expired; every page is the UI's, signed in.
	deadline := expired.Add(15 * time.Second)
	pace := time.NewTicker(200 * time.Millisecond)
	defer pace.Stop()
	for pages := 1; ; pages++ {
		tb.open(base + "/ui/repositories")
		if loc := tb.location(); loc != base+"/ui/repositories" {
			t.Fatalf("page %d, %s after the sign-in: at %s, want /ui/repositories", pages, time.Since(signedIn), loc)
		}
		if _, grants := is.counts(); grants > 0 && time.Now().After(expired) {
			break
		}
		if time.Now().After(deadline) {
			_, grants := is.counts()
			t.Fatalf("%s after the sign-in: %d refresh grants, want the session renewed", time.Since(signedIn), grants)
		}
		<-pace.C
	}
	if who := tb.text(".who"); !strings.Contains(who, "sso:erin") {
		t.Errorf("after the renewal the header says %q, want sso:erin signed in", who)
	}
	now, grants := is.counts()
	if now != authorizations {
		t.Errorf("%d sign-ins at the issuer during the session, want none (renewed server-side)", now-authorizations)
	}
	is.mu.Lock()
	grant := is.refreshGrants[len(is.refreshGrants)-1]
	is.mu.Unlock()
	if grant.Get("grant_type") != "refresh_token" || grant.Get("refresh_token") == "" {
		t.Errorf("the renewal's token request %v, want a refresh_token grant", grant)
	}
	if c := sessionCookie(tb); c == nil || c.Value != cookie.Value {
		t.Errorf("the session cookie changed during the renewal")
	}
	live := is.liveRefresh()
	if len(live) != 1 {
		t.Fatalf("%d refresh tokens live at the issuer after %d grants, want 1 (rotated)", len(live), grants)
	}

	if status := rawGet(t, base+"/ui/repositories", "imagegate_session="+cookie.Value); status != http.StatusOK {
		t.Fatalf("the session cookie before the sign-out: %d, want 200", status)
	}

	// Signing out revokes the live (rotated) refresh token.
	if status := tb.follow(chromedp.Click(chromedp.CSS(`form.signout button`))); status != http.StatusOK {
		t.Fatalf("sign-out ended with %d", status)
	}
	if loc := tb.location(); loc != base+"/ui/login" {
		t.Errorf("after signing out at %s, want back on the sign-in page", loc)
	}
	revokedBy := time.Now().Add(10 * time.Second)
	for len(is.revoked()) == 0 && time.Now().Before(revokedBy) {
		<-pace.C
	}
	revoked := is.revoked()
	if len(revoked) != 1 {
		t.Fatalf("%d requests to the revocation_endpoint, want 1", len(revoked))
	}
	if r := revoked[0]; r.Get("token") != live[0] || r.Get("token_type_hint") != "refresh_token" {
		t.Errorf("revoked %q (hint %q), want the live refresh token %q", r.Get("token"), r.Get("token_type_hint"), live[0])
	}
	if left := is.liveRefresh(); slices.Contains(left, live[0]) {
		t.Errorf("the refresh token is still live at the issuer after the sign-out")
	}
	if status := rawGet(t, base+"/ui/repositories", "imagegate_session="+cookie.Value); status != http.StatusSeeOther {
		t.Errorf("the old session cookie after the sign-out: %d, want 303 to sign in", status)
	}
	if problems := b.takeProblems(); len(problems) > 0 {
		t.Errorf("the pages reported: %q", problems)
	}
}
