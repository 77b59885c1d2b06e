package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// robotName is the robot the test creates and revokes.
const robotName = "ci-ui"

// testRobots: root creates a robot in the browser and sees its secret
// once; the robot gets tokens with it as docker would, until root revokes
// it in the browser. Non-admins see no robots; forms without the CSRF
// token are refused.
func testRobots(t *testing.T, b *browser, f *fixture) {
	base := f.srv.URL
	tb := b.newTab(t)
	tb.signIn(base, "root", users["root"])
	if nav := tb.text("header nav"); !strings.Contains(nav, "Robots") {
		t.Fatalf("root's header %q lacks the Robots link", nav)
	}
	if status := tb.follow(chromedp.Click(chromedp.CSS(`header nav a[href="/ui/robots"]`))); status != http.StatusOK {
		t.Fatalf("root opening the robots page: %d", status)
	}
	tb.run(
		chromedp.SendKeys(chromedp.CSS("#robot-name"), robotName),
		chromedp.SetValue(chromedp.CSS("#robot-scopes"), teamRepo+":pull"),
	)
	if status := tb.follow(chromedp.Click(chromedp.CSS(`form[action="/ui/robots"] button[type=submit]`))); status != http.StatusCreated {
		t.Fatalf("creating the robot: %d, want 201: %s", status, tb.text("main"))
	}
	secret := get(tb, chromedp.Value(chromedp.CSS("#robot-secret")))
	if !strings.HasPrefix(secret, "igr_") {
		t.Fatalf("the result page's secret %q", secret)
	}
	if loc := tb.location(); loc != base+"/ui/robots" || strings.Contains(loc, secret) {
		t.Errorf("the secret page is at %s, want the post's own /ui/robots", loc)
	}
	tb.shot("robot-created")
	if code := robotToken(t, base, secret); code != http.StatusOK {
		t.Fatalf("the new robot's token: %d, want 200", code)
	}

	// Never again: not reloading (the browser posts the form again), not
	// going back, not on the list.
	tb.run(chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("main")))
	if html := get(tb, chromedp.Evaluate[string]("document.documentElement.outerHTML")); strings.Contains(html, secret) ||
		!strings.Contains(html, "a robot of that name exists") {
		t.Errorf("reloading the secret's page: %s", excerpt(html))
	}
	tb.run(chromedp.NavigateBack(), chromedp.WaitReady(chromedp.CSS("main")))
	if html := get(tb, chromedp.Evaluate[string]("document.documentElement.outerHTML")); strings.Contains(html, secret) {
		t.Errorf("going back shows the secret again")
	}
	tb.open(base + "/ui/robots")
	if list := tb.text("#robots"); !strings.Contains(list, robotName) || !strings.Contains(list, teamRepo+":pull") {
		t.Errorf("the robots list %q lacks %s with its scope", list, robotName)
	}
	if html := get(tb, chromedp.Evaluate[string]("document.documentElement.outerHTML")); strings.Contains(html, secret) {
		t.Errorf("the robots list shows the secret")
	}
	tb.shot("robots")
	admin := newPerson(t, base)
	admin.mustSignIn("root", users["root"])
	form := url.Values{"csrf": {admin.token("/ui/robots")}, "name": {robotName}, "scopes": {teamRepo + ":pull"}, "expires": {"720h"}}
	if status, body := admin.post("/ui/robots", form); status != http.StatusBadRequest || strings.Contains(body, "igr_") {
		t.Errorf("posting the creation again (a reload): %d, want 400 without a secret: %s", status, excerpt(body))
	}
	if resp, err := admin.client.PostForm(base+"/ui/robots", url.Values{"csrf": {form.Get("csrf")}, "name": {"other"},
		"scopes": {teamRepo + ":pull"}, "expires": {"1h"}}); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("a creation's answer: %d, Cache-Control %q; want 201, no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}

	// Forms without the session's token change nothing.
	for _, path := range []string{"/ui/robots", "/ui/robots/revoke"} {
		if status, _ := admin.post(path, url.Values{"name": {robotName}, "scopes": {"x/**:pull"}, "expires": {"1h"}}); status != http.StatusForbidden {
			t.Errorf("POST %s without the csrf token: %d, want 403", path, status)
		}
	}
	if code := robotToken(t, base, secret); code != http.StatusOK {
		t.Errorf("after the refused revocation the robot's token: %d, want 200", code)
	}

	// Revoke in the browser, through the confirmation.
	tb.follow(chromedp.Click(chromedp.CSS(`a[href="/ui/robots/revoke?name=` + robotName + `"]`)))
	tb.shot("robot-revoke")
	if status := tb.follow(chromedp.Click(chromedp.CSS(`form[action="/ui/robots/revoke"] button[type=submit]`))); status != http.StatusOK {
		t.Fatalf("revoking: %d", status)
	}
	if msg := tb.text("#revoked"); !strings.Contains(msg, robotName) {
		t.Errorf("after revoking the page says %q", msg)
	}
	if list := tb.text("main"); strings.Contains(list, "robot$"+robotName) {
		t.Errorf("the revoked robot is still listed: %q", list)
	}
	if code := robotToken(t, base, secret); code != http.StatusUnauthorized {
		t.Errorf("the revoked robot's token: %d, want 401", code)
	}

	// Non-admins: no link, no list, the API's refusal as a page.
	alice := adminOnly(t, b, base, "/ui/robots", "Robots", "robot$")
	alice.shot("robots-refused")
	bob := newPerson(t, base)
	bob.mustSignIn("bob", users["bob"])
	if status, body := bob.post("/ui/robots", url.Values{"csrf": {bob.token("/ui/repositories")}, "name": {"bobs"},
		"scopes": {"**:pull,push"}, "expires": {"1h"}}); status != http.StatusForbidden || strings.Contains(body, "igr_") {
		t.Errorf("bob creating a robot: %d, want 403: %s", status, excerpt(body))
	}
	if problems := b.takeProblems(); len(problems) > 0 {
		t.Errorf("the robots pages reported: %q", problems)
	}
}

// robotToken asks the token endpoint for a pull token on teamRepo as the
// robot, as docker does: GET with Basic credentials, then POST with the
// OAuth2 password grant; it returns their status (which must agree).
func robotToken(t *testing.T, base, secret string) int {
	t.Helper()
	scope := "repository:" + teamRepo + ":pull"
	req, _ := http.NewRequest(http.MethodGet, base+"/auth/token?service=imagegate&scope="+url.QueryEscape(scope), nil)
	req.SetBasicAuth("robot$"+robotName, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	post, err := http.PostForm(base+"/auth/token", url.Values{"grant_type": {"password"}, "service": {"imagegate"},
		"scope": {scope}, "username": {"robot$" + robotName}, "password": {secret}, "client_id": {"docker"}})
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != resp.StatusCode {
		t.Errorf("token endpoint: GET %d, POST %d; want the same", resp.StatusCode, post.StatusCode)
	}
	return resp.StatusCode
}
