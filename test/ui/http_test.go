package ui

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// person is a plain HTTP client of the UI with a cookie jar: the
// requests a browser would not let a test forge.
type person struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newPerson(t *testing.T, base string) *person {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &person{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// csrfInput finds a form's CSRF token.
var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get answers GET path: status and body.
func (p *person) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.client.Get(p.base + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form to path: status and body.
func (p *person) post(path string, form url.Values) (int, string) {
	p.t.Helper()
	resp, err := p.client.PostForm(p.base+path, form)
	if err != nil {
		p.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// token is the CSRF token of the form on path.
func (p *person) token(path string) string {
	p.t.Helper()
	_, body := p.get(path)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		p.t.Fatalf("no csrf token on %s", path)
	}
	return m[1]
}

// signIn posts the sign-in form and returns its status and body.
func (p *person) signIn(user, password string) (int, string) {
	p.t.Helper()
	return p.post("/ui/login", url.Values{"csrf": {p.token("/ui/login")}, "username": {user}, "password": {password}})
}

// mustSignIn signs in or fails the test.
func (p *person) mustSignIn(user, password string) {
	p.t.Helper()
	if status, body := p.signIn(user, password); status != http.StatusSeeOther {
		p.t.Fatalf("sign-in of %s: %d, want 303: %s", user, status, excerpt(body))
	}
}

// excerpt is the main element of a page, for failure messages.
func excerpt(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	return body[:min(len(body), 600)]
}
