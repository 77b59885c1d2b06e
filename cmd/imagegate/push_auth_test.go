package main

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// TestPushWithAuth: credentials from the environment (Basic) and a token
// from the token service (Bearer) both push, and the progress stream is
// followed under the same identity; a wrong password is refused (status 3).
func TestPushWithAuth(t *testing.T) {
	users := map[string]string{"alice": "alice-pw"}
	htpasswd := liveserver.WriteHtpasswd(t, users)
	server := startRegistry(t, func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing-key.pem")
		c.Auth.PersonalNamespace = false
		c.Auth.Bindings = []config.AuthBinding{{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}}}
	})
	path, _ := writeTarball(t, 1)

	env := []string{"IMAGEGATE_SERVER=" + server, "IMAGEGATE_USERNAME=alice", "IMAGEGATE_PASSWORD=alice-pw"}
	_, stderr, err := runPush(t, nil, env, path, "--to", "team/basic:1")
	if err != nil {
		t.Fatalf("push with Basic credentials: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "stage validating: ") {
		t.Errorf("progress not followed under auth:\n%s", stderr)
	}

	token, err := fetchToken(http.DefaultClient, server, "alice", "alice-pw", "repository:team/bearer:push")
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runPush(t, nil, []string{"IMAGEGATE_TOKEN=" + token}, path, "--server", server, "--to", "team/bearer:1"); err != nil {
		t.Fatalf("push with a token: %v\n%s", err, stderr)
	}

	_, _, err = runPush(t, nil, nil, path, "--server", server, "--to", "team/basic:2", "--username", "alice", "--password", "wrong", "--quiet")
	var ee *exitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitRefused || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("wrong password: %v", err)
	}
	_, _, err = runPush(t, nil, env, path, "--to", "other/app:1", "--quiet")
	if !errors.As(err, &ee) || ee.ExitCode() != exitRefused {
		t.Fatalf("push outside the binding: %v", err)
	}
	t.Logf("outside the binding: %v", err)
}
