package registry

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAPIMalformedInputs: every endpoint refuses a malformed name with
// 400 NAME_INVALID, a malformed digest with DIGEST_INVALID, and an
// unbounded, unknown or repeated parameter with QUERY_INVALID — each
// message naming the parameter — where `?repository=Bad//Name` answered
// 200 with an empty list (issue 15).
func TestAPIMalformedInputs(t *testing.T) {
	s := startServer(t, nil)
	pushN(t, s, "api/x", "v1", 1)
	sha := "sha256:" + strings.Repeat("a", 64)
	future := url.QueryEscape(time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339))
	cases := []struct {
		method, path string
		code         string
		names        string // the message contains it
	}{
		{"GET", "/api/v1/pushes?repository=Bad//Name", "NAME_INVALID", "repository"},
		{"GET", "/api/v1/pushes?repository=" + strings.Repeat("a", 256), "NAME_INVALID", "repository"},
		{"GET", "/api/v1/pushes?status=pending&repository=Bad", "NAME_INVALID", "repository"},
		{"GET", "/api/v1/repositories/Bad/Name/manifests/" + sha, "NAME_INVALID", "name"},
		{"GET", "/api/v1/repositories/bad//name/manifests/" + sha, "NAME_INVALID", ""},
		{"GET", "/api/v1/repositories/a/-b/manifests/" + sha + "/vulnerabilities", "NAME_INVALID", "name"},
		{"POST", "/api/v1/repositories/A/manifests/" + sha + "/scan", "NAME_INVALID", "name"},
		{"DELETE", "/api/v1/robots/Bad%20Name", "UNSUPPORTED", ""}, // robots need auth: see TestAPIRobotNames
		{"GET", "/api/v1/pushes?digest=sha256:zz", "DIGEST_INVALID", "digest"},
		{"GET", "/api/v1/repositories/api/x/manifests/latest", "DIGEST_INVALID", "digest"},
		{"GET", "/api/v1/repositories/api/x/manifests/md5:abc/vulnerabilities", "DIGEST_INVALID", "digest"},
		{"GET", "/api/v1/pushes?limit=1001", "QUERY_INVALID", "limit"},
		{"GET", "/api/v1/pushes?limit=-1", "QUERY_INVALID", "limit"},
		{"GET", "/api/v1/pushes?limit=1&limit=2", "QUERY_INVALID", "limit"},
		{"GET", "/api/v1/pushes?cursor=" + strings.Repeat("A", 3000), "QUERY_INVALID", "cursor"},
		{"GET", "/api/v1/pushes?cursor=a%2Fb", "QUERY_INVALID", "cursor"},
		{"GET", "/api/v1/pushes?cursor=", "QUERY_INVALID", "cursor"},
		{"GET", "/api/v1/pushes?since=1969-12-31T23:59:59Z", "QUERY_INVALID", "since"},
		{"GET", "/api/v1/pushes?since=" + future, "QUERY_INVALID", "since"},
		{"GET", "/api/v1/pushes?since=2026-13-01", "QUERY_INVALID", "since"},
		{"GET", "/api/v1/pushes?status=pending&before=" + future, "QUERY_INVALID", "before"},
		{"GET", "/api/v1/pushes?user=" + strings.Repeat("u", 257), "QUERY_INVALID", "user"},
		{"GET", "/api/v1/pushes?user=a%00b", "QUERY_INVALID", "user"},
		{"GET", "/api/v1/pushes?repo=api/x", "QUERY_INVALID", "repo"},
		{"GET", "/api/v1/pushes?status=pending&since=2026-01-01T00:00:00Z", "QUERY_INVALID", "since"},
		{"GET", "/api/v1/pushes?status=pending&status=pending", "QUERY_INVALID", "status"},
		{"GET", "/api/v1/pushes/not-an-id", "QUERY_INVALID", "id"},
		{"GET", "/api/v1/repositories/api/x/manifests/" + sha + "?verbose=1", "QUERY_INVALID", "verbose"},
	}
	for _, tc := range cases {
		status, _, body := do(t, tc.method, s.base+tc.path, nil, nil)
		code, msg := ociError(t, body)
		want := http.StatusBadRequest
		if tc.code == "UNSUPPORTED" {
			want = http.StatusMethodNotAllowed
		}
		if status != want || code != tc.code || !strings.Contains(msg, tc.names) {
			t.Errorf("%s %s: %d %s %q, want %d %s naming %q", tc.method, tc.path, status, code, msg, want, tc.code, tc.names)
		}
	}
	// Well-formed, the same endpoints answer.
	for _, p := range []string{"/api/v1/pushes?repository=api/x&limit=1000", "/api/v1/pushes?since=1970-01-01T00:00:00Z",
		"/api/v1/pushes?status=pending&repository=api/x"} {
		if status, _, body := do(t, "GET", s.base+p, nil, nil); status != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, status, body)
		}
	}
}

// TestAPIRobotNames: a malformed robot name is NAME_INVALID, on creation
// and on revocation (a revocation answered "unknown robot" before).
func TestAPIRobotNames(t *testing.T) {
	s := startAuthServer(t)
	root := basic("root", "root-pw")
	root.Set("Content-Type", "application/json")
	status, _, body := do(t, "POST", s.base+"/api/v1/robots", root,
		strings.NewReader(`{"name":"Bad Name!","scopes":[{"repositories":"**","actions":["pull"]}],"expires_in":"1h"}`))
	if code, msg := ociError(t, body); status != http.StatusBadRequest || code != "NAME_INVALID" || !strings.Contains(msg, "name") {
		t.Fatalf("create Bad Name!: %d %s", status, body)
	}
	status, _, body = do(t, "DELETE", s.base+"/api/v1/robots/Bad%20Name", root, nil)
	if code, _ := ociError(t, body); status != http.StatusBadRequest || code != "NAME_INVALID" {
		t.Fatalf("revoke Bad Name: %d %s", status, body)
	}
	status, _, body = do(t, "DELETE", s.base+"/api/v1/robots/nobody", root, nil)
	if code, _ := ociError(t, body); status != http.StatusNotFound || code != "RECORD_UNKNOWN" {
		t.Fatalf("revoke an unknown robot: %d %s", status, body)
	}
}
