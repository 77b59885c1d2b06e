package liveserver

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// StartWithConfig is Start with a configuration file: it writes configYAML
// to a file in a new temporary directory and runs `bin serve --config FILE`.
// The environment Start sets (listen addresses, storage root) and extraEnv
// still override the file, as IMAGEGATE_* variables override any file; use
// the file for what the environment cannot express, such as auth.bindings.
// Relative paths in the file are taken from the server's working directory
// (Server.WorkDir), a private temporary directory; absolute paths into the
// test's own t.TempDir() are the clearer choice.
func StartWithConfig(t testing.TB, bin, configYAML string, extraEnv ...string) *Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "imagegate.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("liveserver: write config file: %v", err)
	}
	return start(t, bin, path, extraEnv)
}

// WriteHtpasswd writes users (name → password) to a new htpasswd file in a
// temporary directory and returns its path. Hashes are bcrypt at the
// minimum cost: valid for imagegate (which accepts only bcrypt), and fast to
// check, since every login of an end-to-end test verifies one.
func WriteHtpasswd(t testing.TB, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(users)) {
		hash, err := bcrypt.GenerateFromPassword([]byte(users[name]), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("liveserver: bcrypt password of %s: %v", name, err)
		}
		b.WriteString(name + ":" + string(hash) + "\n")
	}
	path := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("liveserver: write htpasswd file: %v", err)
	}
	return path
}

// TeamAuthYAML is the auth section the end-to-end suites share: users
// from htpasswd, tokens signed with a key created under dir, alice a
// developer (pull, push) and bob a reader (pull) on team/**. It ends with
// the bindings list, so a caller may append more bindings.
func TeamAuthYAML(htpasswd, dir string) string {
	return fmt.Sprintf(`auth:
  enabled: true
  htpasswd: %q
  signingkey: %q
  bindings:
    - subjects: [alice]
      role: developer
      repositories: ["team/**"]
    - subjects: [bob]
      role: reader
      repositories: ["team/**"]
`, htpasswd, filepath.Join(dir, "signing-key.pem"))
}
