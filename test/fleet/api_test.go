package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// httpClient is every hand-made request's client.
var httpClient = &http.Client{Timeout: time.Minute}

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	Token string `json:"token"`
}

// login asks the token endpoint at addr (host:port) for a token for scope
// as user with password, and returns the status and the token (empty
// unless 200).
func login(t testing.TB, addr, user, password, scope string) (int, string) {
	t.Helper()
	u := "http://" + addr + "/auth/token?service=imagegate"
	if scope != "" {
		u += "&scope=" + url.QueryEscape(scope)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("token from %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, ""
	}
	var tok tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("token from %s: %v (empty: %t)", addr, err, tok.Token == "")
	}
	return resp.StatusCode, tok.Token
}

// mustToken is login that fails the test unless it got a token.
func mustToken(t testing.TB, addr, user, scope string) string {
	t.Helper()
	status, tok := login(t, addr, user, users[user], scope)
	if status != http.StatusOK {
		t.Fatalf("login as %s at %s for %q: %d", user, addr, scope, status)
	}
	return tok
}

// getJSON sends GET url with the Authorization header authz (none when
// empty) and decodes a 200 answer into out; it returns the status.
func getJSON(t testing.TB, rawURL, authz string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: decode: %v", rawURL, err)
	}
	return resp.StatusCode
}

// basic is the Authorization header value of user's Basic credentials.
func basic(user string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, users[user])
	return req.Header.Get("Authorization")
}

// adminScope is the scope of an admin token for imagegate's API.
const adminScope = "registry:catalog:*"

// pushesPage is GET /api/v1/pushes.
type pushesPage struct {
	Records []*metadata.Record `json:"records"`
}

// records lists the push records of repo (newest first, one page of at
// most 100), or the pending ones of every repository when repo is
// "pending", asked at addr as root.
func records(t testing.TB, addr, repo string) []*metadata.Record {
	t.Helper()
	// A repository's records are for whoever may pull it; all pending
	// records for admins only.
	q, scope := "repository="+url.QueryEscape(repo)+"&limit=100", "repository:"+repo+":pull"
	if repo == "pending" {
		q, scope = "status=pending&limit=100", adminScope
	}
	var page pushesPage
	if status := getJSON(t, "http://"+addr+"/api/v1/pushes?"+q, "Bearer "+mustToken(t, addr, "root", scope), &page); status != http.StatusOK {
		t.Fatalf("GET /api/v1/pushes?%s at %s: %d", q, addr, status)
	}
	return page.Records
}

// describe prints records for failure messages.
func describe(rs []*metadata.Record) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("\n  %s %s %s %q", r.ID, r.Status, r.Digest, r.Reason)
	}
	return s
}
