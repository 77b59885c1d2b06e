package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
)

// testOIDC: a person signs in with the OIDC issuer in the browser and sees
// what the issuer's rules grant; a callback whose state is forged, used
// twice or not this browser's is refused, and so is an ID token with
// another nonce or audience.
func testOIDC(t *testing.T, b *browser, f *fixture) {
	base, is := f.srv.URL, f.issuer

	t.Run("SignIn", func(t *testing.T) {
		tb := b.newTab(t)
		tb.open(base + "/ui/login")
		if btn := tb.text("#oidc-signin"); btn != "Sign in with Test SSO" {
			t.Fatalf("sign-in page's issuer button says %q", btn)
		}
		tb.shot("login-oidc")
		before := is.exchanges()
		if status := tb.follow(chromedp.Click(chromedp.CSS("#oidc-signin"))); status != http.StatusOK {
			t.Fatalf("sign-in with the issuer ended with %d", status)
		}
		if loc := tb.location(); loc != base+"/ui/repositories" {
			t.Fatalf("after the issuer's sign-in at %s, want /ui/repositories", loc)
		}
		if n := is.exchanges() - before; n != 1 {
			t.Fatalf("%d code exchanges with a matching PKCE verifier, want 1", n)
		}
		if who := tb.text(".who"); !strings.Contains(who, "sso:erin") {
			t.Errorf("header says %q, want sso:erin signed in", who)
		}
		list := tb.text("main")
		if !strings.Contains(list, teamRepo) || strings.Contains(list, privateRepo) {
			t.Errorf("erin's repositories %q: want %s (the rules grant team/**) and not %s", list, teamRepo, privateRepo)
		}
		// The same callback again: its state was used.
		if status := tb.visit(is.callback()); status != http.StatusBadRequest {
			t.Errorf("replayed callback: %d, want 400", status)
		}
	})

	t.Run("StateOfAnotherBrowser", func(t *testing.T) {
		// An attacker starts a sign-in, and makes a victim's browser finish it.
		attacker := newPerson(t, base)
		callback := attacker.startOIDC()
		tb := b.newTab(t)
		if status := tb.visit(callback); status != http.StatusBadRequest {
			t.Errorf("another browser's callback: %d, want 400", status)
		}
		tb.signedOut(base)
		// In the browser that started it, the same callback still signs in.
		if status, loc := attacker.getLocation(callback); status != http.StatusSeeOther || loc != "/ui/repositories" {
			t.Errorf("own callback: %d to %q, want 303 to /ui/repositories", status, loc)
		}
	})

	refused := map[string]struct {
		tamper func(jwt.MapClaims, *string)
		status int64
	}{
		"ForgedState":   {func(_ jwt.MapClaims, state *string) { *state = "forged-" + *state }, http.StatusBadRequest},
		"WrongNonce":    {func(c jwt.MapClaims, _ *string) { tamperClaim(c, "nonce", "another-sign-in") }, http.StatusUnauthorized},
		"WrongAudience": {func(c jwt.MapClaims, _ *string) { tamperClaim(c, "aud", "another-client") }, http.StatusUnauthorized},
		"NoRuleMatches": {func(c jwt.MapClaims, _ *string) { tamperClaim(c, "team", "sales") }, http.StatusUnauthorized},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			is.setTamper(tc.tamper)
			defer is.setTamper(nil)
			tb := b.newTab(t)
			tb.open(base + "/ui/login")
			if status := tb.follow(chromedp.Click(chromedp.CSS("#oidc-signin"))); status != tc.status {
				t.Errorf("sign-in: %d, want %d", status, tc.status)
			}
			if name == "WrongNonce" {
				tb.shot("login-oidc-refused")
			}
			tb.signedOut(base)
		})
	}
}

// tamperClaim sets a claim of the ID token (claims is nil at /authorize).
func tamperClaim(c jwt.MapClaims, name, value string) {
	if c != nil {
		c[name] = value
	}
}

// signedOut fails the test unless the tab has no session: its
// repositories page sends it to sign in.
func (tb *tab) signedOut(base string) {
	tb.t.Helper()
	tb.open(base + "/ui/repositories")
	if loc := tb.location(); !strings.HasPrefix(loc, base+"/ui/login") {
		tb.t.Errorf("at %s: signed in, want signed out", loc)
	}
}

// startOIDC starts a sign-in with the issuer and returns the callback the
// issuer sends the browser back to (not followed).
func (p *person) startOIDC() string {
	p.t.Helper()
	resp, err := p.client.PostForm(p.base+"/ui/login/oidc", url.Values{"csrf": {p.token("/ui/login")}})
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("starting the sign-in: %d, want 303", resp.StatusCode)
	}
	status, callback := p.getLocation(resp.Header.Get("Location"))
	if status != http.StatusFound || !strings.HasPrefix(callback, p.base+"/ui/login/oidc/callback?") {
		p.t.Fatalf("issuer answered %d to %q, want a redirect to the callback", status, callback)
	}
	return callback
}

// getLocation GETs an absolute URL without following a redirect: status and Location.
func (p *person) getLocation(u string) (int, string) {
	p.t.Helper()
	resp, err := p.client.Get(u)
	if err != nil {
		p.t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// testOIDCSession: a session from an OIDC sign-in ends when its ID token
// expires (the cookie's expiry, and the server's session, whatever the
// browser keeps sending); signing out sends the browser through the
// issuer's end_session_endpoint with the ID token as hint and back to
// the sign-in page, while an htpasswd user's sign-out does not.
func testOIDCSession(t *testing.T, b *browser, f *fixture) {
	base, is := f.srv.URL, f.issuer

	t.Run("EndsWithTheIDToken", func(t *testing.T) {
		const life = 3 * time.Second
		var exp time.Time
		is.setTamper(func(c jwt.MapClaims, _ *string) {
			if c != nil {
				exp = time.Now().Add(life).Truncate(time.Second)
				c["exp"] = exp.Unix()
			}
		})
		defer is.setTamper(nil)
		tb := b.newTab(t)
		tb.open(base + "/ui/login")
		if status := tb.follow(chromedp.Click(chromedp.CSS("#oidc-signin"))); status != http.StatusOK {
			t.Fatalf("sign-in with the issuer ended with %d", status)
		}
		cookie := sessionCookie(tb)
		if cookie == nil {
			t.Fatal("no session cookie after the issuer's sign-in")
		}
		if until := time.Unix(int64(cookie.Expires), 0); until.After(exp.Add(time.Second)) {
			t.Errorf("the session cookie lasts until %s, past the ID token's expiry %s", until, exp)
		}
		// The server ends the session itself: a client that keeps sending
		// the cookie past its expiry is signed out at the token's expiry.
		poll := time.NewTicker(100 * time.Millisecond)
		defer poll.Stop()
		for range poll.C {
			status := rawGet(t, base+"/ui/repositories", "imagegate_session="+cookie.Value)
			if status == http.StatusSeeOther {
				break
			}
			if status != http.StatusOK || time.Now().After(exp.Add(3*time.Second)) {
				t.Fatalf("at %s (the ID token expired at %s) the session answers %d", time.Now().Format(time.TimeOnly), exp.Format(time.TimeOnly), status)
			}
		}
		if now := time.Now(); now.Before(exp.Add(-time.Second)) {
			t.Errorf("the session ended at %s, before the ID token's expiry %s", now, exp)
		}
	})

	t.Run("SignOutAtTheIssuer", func(t *testing.T) {
		tb := b.newTab(t)
		tb.open(base + "/ui/login")
		tb.follow(chromedp.Click(chromedp.CSS("#oidc-signin")))
		before := len(is.loggedOut())
		if status := tb.follow(chromedp.Click(chromedp.CSS(`form.signout button`))); status != http.StatusOK {
			t.Fatalf("sign-out ended with %d", status)
		}
		if loc := tb.location(); loc != base+"/ui/login" {
			t.Errorf("after signing out at %s, want back on the sign-in page", loc)
		}
		logouts := is.loggedOut()
		if len(logouts) != before+1 {
			t.Fatalf("%d requests to the end_session_endpoint, want 1", len(logouts)-before)
		}
		q := logouts[len(logouts)-1]
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(q.Get("id_token_hint"), claims); err != nil || claims["sub"] != "erin" {
			t.Errorf("id_token_hint %q: %v, %v; want erin's ID token", q.Get("id_token_hint"), claims, err)
		}
		if got := q.Get("post_logout_redirect_uri"); got != base+"/ui/login" {
			t.Errorf("post_logout_redirect_uri %q", got)
		}
		if got := q.Get("client_id"); got != oidcClientID {
			t.Errorf("client_id %q", got)
		}
		tb.signedOut(base)
		if problems := b.takeProblems(); len(problems) > 0 {
			t.Errorf("the sign-out reported: %q", problems)
		}

		alice := b.newTab(t)
		alice.signIn(base, "alice", users["alice"])
		alice.follow(chromedp.Click(chromedp.CSS(`form.signout button`)))
		if n := len(is.loggedOut()); n != len(logouts) {
			t.Errorf("an htpasswd user's sign-out went to the issuer")
		}
		alice.signedOut(base)
	})
}

// sessionCookie is the tab's session cookie, nil without one.
func sessionCookie(tb *tab) *network.Cookie {
	tb.t.Helper()
	cookies := get(tb, func(ctx context.Context, _ *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	})
	for _, c := range cookies.Cookies {
		if c.Name == "imagegate_session" {
			return c
		}
	}
	return nil
}

// rawGet GETs url with the Cookie header cookie, following no redirect:
// the server's answer, whatever a browser would keep.
func rawGet(t *testing.T, url, cookie string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", cookie)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
