package registry

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/metadata"
)

// basic is an Authorization header with user's Basic credentials.
func basic(user, password string) http.Header {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return http.Header{"Authorization": {r.Header.Get("Authorization")}}
}

// bearer is an Authorization header with token.
func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// ociError decodes the one error of an OCI error body.
func ociError(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var env struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Errors) != 1 {
		t.Fatalf("not one OCI error: %s", body)
	}
	return env.Errors[0].Code, env.Errors[0].Message
}

// TestAPIAcceptsBasicLikeUploads: /api/v1 takes the Basic credentials the
// upload endpoints take, judged by the same policy and counted by the
// same lockout as the token endpoint — failures on the API lock the
// token endpoint too (issue 15: the API refused Basic).
func TestAPIAcceptsBasicLikeUploads(t *testing.T) {
	s := startAuthServer(t)
	pushAs(t, s, "team/app", "alice")

	status, _, body := do(t, "GET", s.base+"/api/v1/pushes?repository=team/app", basic("alice", "alice-pw"), nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"repository": "team/app"`) {
		t.Fatalf("alice with Basic: %d %s", status, body)
	}
	status, _, body = do(t, "GET", s.base+"/api/v1/pushes", basic("root", "root-pw"), nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"client_ip"`) {
		t.Fatalf("root with Basic across repositories: %d %s, want every record with client_ip", status, body)
	}
	status, _, body = do(t, "GET", s.base+"/api/v1/pushes", basic("alice", "alice-pw"), nil)
	if code, msg := ociError(t, body); status != http.StatusForbidden || code != "DENIED" || !strings.Contains(msg, "alice is none") {
		t.Fatalf("alice across repositories: %d %s, want 403 DENIED naming alice", status, body)
	}

	// Three failures (auth.lockout.maxfailures in startAuthServer) lock
	// bob from this address: on the API and on the token endpoint.
	for i := range 3 {
		status, _, body := do(t, "GET", s.base+"/api/v1/pushes?repository=team/app", basic("bob", "wrong"), nil)
		if code, _ := ociError(t, body); status != http.StatusUnauthorized || code != "UNAUTHORIZED" {
			t.Fatalf("wrong password %d: %d %s", i, status, body)
		}
	}
	status, hdr, body := do(t, "GET", s.base+"/api/v1/pushes?repository=team/app", basic("bob", "bob-pw"), nil)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("bob locked out, right password on the API: %d %q %s, want 429 with Retry-After", status, hdr.Get("Retry-After"), body)
	}
	status, _, _ = do(t, "GET", s.base+"/auth/token?service=imagegate", basic("bob", "bob-pw"), nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("bob locked out by API failures, token endpoint: %d, want 429 (one lockout)", status)
	}
}

// TestAPIOneTokenScope: one token for scope registry:catalog:* serves
// every endpoint — per repository and across repositories — and the
// policy decides each request; challenges name that scope. A /v2/ token
// for a repository still works there, and only there.
func TestAPIOneTokenScope(t *testing.T) {
	s := startAuthServer(t)
	pushAs(t, s, "team/app", "alice")
	pushAs(t, s, "other/x", "root")
	pushAs(t, s, "public/base", "root")
	rec, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app"})
	d := rec.Records[0].Digest.String()

	alice := bearer(token(t, s, "alice", "registry:catalog:*"))
	root := bearer(token(t, s, "root", "registry:catalog:*"))
	repoOnly := bearer(token(t, s, "alice", "repository:team/app:pull"))
	cases := []struct {
		who    string
		hdr    http.Header
		method string
		path   string
		status int
		code   string // of the error, or "" on success
	}{
		{"alice", alice, "GET", "/api/v1/pushes?repository=team/app", 200, ""},
		{"alice", alice, "GET", "/api/v1/repositories/team/app/manifests/" + d, 200, ""},
		{"alice", alice, "GET", "/api/v1/repositories/team/app/manifests/" + d + "/layers", 200, ""},
		{"alice", alice, "GET", "/api/v1/repositories/other/x/manifests/" + d + "/layers", 403, "DENIED"},
		{"nobody", nil, "GET", "/api/v1/repositories/team/app/manifests/" + d + "/layers", 401, "UNAUTHORIZED"},
		{"alice", alice, "GET", "/api/v1/pushes?repository=other/x", 403, "DENIED"},
		{"alice", alice, "GET", "/api/v1/pushes", 403, "DENIED"},
		{"alice", alice, "GET", "/api/v1/pushes?status=pending", 403, "DENIED"},
		{"alice", alice, "GET", "/api/v1/robots", 403, "DENIED"},
		{"root", root, "GET", "/api/v1/pushes", 200, ""},
		{"root", root, "GET", "/api/v1/pushes?repository=other/x", 200, ""},
		{"root", root, "GET", "/api/v1/pushes?status=pending", 200, ""},
		{"root", root, "GET", "/api/v1/robots", 200, ""},
		{"repository token", repoOnly, "GET", "/api/v1/pushes?repository=team/app", 200, ""},
		{"repository token", repoOnly, "GET", "/api/v1/pushes", 401, "UNAUTHORIZED"},
		{"repository token", repoOnly, "GET", "/api/v1/pushes?repository=other/x", 401, "UNAUTHORIZED"},
		{"nobody", nil, "GET", "/api/v1/pushes?repository=team/app", 401, "UNAUTHORIZED"},
		{"nobody", nil, "GET", "/api/v1/pushes?repository=public/base", 200, ""},
		{"bad token", bearer("not.a.token"), "GET", "/api/v1/pushes?repository=public/base", 401, "UNAUTHORIZED"},
	}
	for _, tc := range cases {
		status, hdr, body := do(t, tc.method, s.base+tc.path, tc.hdr, nil)
		if status != tc.status {
			t.Errorf("%s %s %s: %d %s, want %d", tc.who, tc.method, tc.path, status, body, tc.status)
			continue
		}
		if tc.code != "" {
			if code, _ := ociError(t, body); code != tc.code {
				t.Errorf("%s %s: code %s, want %s", tc.who, tc.path, code, tc.code)
			}
		}
		if status == http.StatusUnauthorized && !strings.Contains(hdr.Get("WWW-Authenticate"), `scope="registry:catalog:*"`) {
			t.Errorf("%s %s: challenge %q does not name the API's scope", tc.who, tc.path, hdr.Get("WWW-Authenticate"))
		}
	}
}

// TestAPIRecordByID: GET /api/v1/pushes/{id} (the record_id of webhook
// events) answers whoever may pull the record's repository, and 404 —
// as for an unknown id — to anyone else.
func TestAPIRecordByID(t *testing.T) {
	s := startAuthServer(t)
	pushAs(t, s, "team/app", "alice")
	pushAs(t, s, "other/x", "root")
	mine, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app"})
	theirs, _ := s.store.List(t.Context(), metadata.Query{Repository: "other/x"})
	id, hidden := mine.Records[0].ID, theirs.Records[0].ID

	alice := basic("alice", "alice-pw")
	status, _, body := do(t, "GET", s.base+"/api/v1/pushes/"+id, alice, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"id": "`+id+`"`) || strings.Contains(string(body), "client_ip") {
		t.Fatalf("alice reads her record: %d %s, want it without client_ip", status, body)
	}
	for _, unknown := range []string{hidden, "01900000-0000-7000-8000-000000000000"} {
		status, _, body = do(t, "GET", s.base+"/api/v1/pushes/"+unknown, alice, nil)
		if code, _ := ociError(t, body); status != http.StatusNotFound || code != "RECORD_UNKNOWN" {
			t.Fatalf("alice reads %s: %d %s, want 404 RECORD_UNKNOWN", unknown, status, body)
		}
	}
	if status, _, _ = do(t, "GET", s.base+"/api/v1/pushes/"+hidden, basic("root", "root-pw"), nil); status != http.StatusOK {
		t.Fatalf("root reads any record: %d", status)
	}
	if status, _, _ = do(t, "GET", s.base+"/api/v1/pushes/"+id, nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d, want 401", status)
	}
}
