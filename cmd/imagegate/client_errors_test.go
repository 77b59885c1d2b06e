package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/imagegate/imagegate/config"
)

// startAuthRegistry runs a server with auth on and one admin, root
// (password root-pw); it returns the server's URL.
func startAuthRegistry(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("root-pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(dir, "users")
	if err := os.WriteFile(htpasswd, []byte("root:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startRegistry(t, func(cfg *config.Config) {
		cfg.Auth.Enabled, cfg.Auth.Htpasswd = true, htpasswd
		cfg.Auth.SigningKey = filepath.Join(dir, "key.pem")
		cfg.Auth.Bindings = []config.AuthBinding{{Subjects: []string{"root"}, Role: "admin", Repositories: []string{"**"}}}
	})
}

// jsonError is what --json prints on standard output for a refusal.
type jsonError struct {
	Status int `json:"status"`
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// TestClientErrors: the server's OCI errors reach the user of token and
// scan as one "imagegate: … HTTP STATUS: CODE: message (detail)" line on
// standard error, without JSON, and exit status 1; with --json standard
// output is also exactly one JSON object holding them. Flags come after
// the arguments, as the help shows them.
func TestClientErrors(t *testing.T) {
	server := startAuthRegistry(t)
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		want   string // stderr, one line
		status int    // of the --json answer
		code   string // of its first error
	}{
		{"wrong admin password", "wrong\n", []string{"token", "robot", "list", "--server", server, "--username", "root"},
			"imagegate: token: logging in as root: HTTP 401 Unauthorized: UNAUTHORIZED: ", 401, "UNAUTHORIZED"},
		{"revoke an unknown robot", "root-pw\n", []string{"token", "robot", "revoke", "ghost", "--server", server, "--username", "root"},
			"imagegate: token: HTTP 404 Not Found: RECORD_UNKNOWN: no robot of that name (ghost)", 404, "RECORD_UNKNOWN"},
		{"create an invalid robot", "root-pw\n", []string{"token", "robot", "create", "Bad Name!", "--scope", "team/**:pull", "--server", server, "--username", "root"},
			"imagegate: token: HTTP 400 Bad Request: ", 400, ""},
		{"anonymous robot list", "", []string{"token", "robot", "list", "--server", server},
			"imagegate: token: HTTP 401 Unauthorized: UNAUTHORIZED: ", 401, "UNAUTHORIZED"},
		{"anonymous scan", "", []string{"scan", "team/app@" + digest, "--server", server},
			"imagegate: scan team/app@" + digest + ": HTTP 401 Unauthorized: UNAUTHORIZED: ", 401, "UNAUTHORIZED"},
		// Logged in (a rescan needs push), the server has no scanner.
		{"scan on a server without scanner", "root-pw\n", []string{"scan", "team/app@" + digest, "--server", server, "--username", "root"},
			"imagegate: scan team/app@" + digest + ": HTTP 503 Service Unavailable: UNAVAILABLE: this server has no scanner", 503, "UNAVAILABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := cli(t, tc.stdin, nil, tc.args...)
			if status != 1 || stdout != "" || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 ||
				strings.Contains(stderr, `{"errors"`) || strings.Contains(stderr, `"code"`) {
				t.Errorf("status %d, stdout %q, stderr:\n%s\nwant status 1, no stdout, one line starting %q", status, stdout, stderr, tc.want)
			}
			t.Logf("human: %s", stderr)

			stdout, stderr, status = cli(t, tc.stdin, nil, append(tc.args, "--json")...)
			var got jsonError
			dec := json.NewDecoder(strings.NewReader(stdout))
			if err := dec.Decode(&got); err != nil || dec.More() {
				t.Fatalf("--json: stdout is not one JSON object (%v):\n%s", err, stdout)
			}
			if status != 1 || got.Status != tc.status || len(got.Errors) == 0 || got.Errors[0].Message == "" ||
				(tc.code != "" && got.Errors[0].Code != tc.code) || !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("--json: status %d, answer %+v, stderr %q; want HTTP %d %s", status, got, stderr, tc.status, tc.code)
			}
			t.Logf("json: %s", stdout)
		})
	}
}

// TestScanUnreachable: a server that cannot be reached is one line too,
// and {"error":{"message":…}} with --json.
func TestScanUnreachable(t *testing.T) {
	args := []string{"scan", "team/app@sha256:" + strings.Repeat("ab", 32), "--server", "http://127.0.0.1:1"}
	_, stderr, status := cli(t, "", nil, args...)
	if status != 1 || !strings.Contains(stderr, "connection refused") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	stdout, _, _ := cli(t, "", nil, append(args, "--json")...)
	var got struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || !strings.Contains(got.Error.Message, "connection refused") {
		t.Fatalf("--json: %q (%v)", stdout, err)
	}
}
