package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/pushclient"
)

// TestPushImmutableTag: `imagegate push` over an immutable tag is refused
// (exit status 3) with the rule's message; an administrator's
// --override-immutable moves it, a developer's is ignored.
func TestPushImmutableTag(t *testing.T) {
	if pushclient.HeaderOverrideImmutable != lifecycle.OverrideHeader {
		t.Fatalf("the client sends %s, the server reads %s", pushclient.HeaderOverrideImmutable, lifecycle.OverrideHeader)
	}
	users := map[string]string{"alice": "alice-pw", "root": "root-pw"}
	htpasswd := liveserver.WriteHtpasswd(t, users)
	server := startRegistry(t, func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing-key.pem")
		c.Auth.PersonalNamespace = false
		c.Auth.Bindings = []config.AuthBinding{
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}},
			{Subjects: []string{"root"}, Role: "admin", Repositories: []string{"**"}},
		}
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "team/**", Tags: []string{lifecycle.Semver}}}
	})
	first, _ := writeTarball(t, 1)
	second, _ := writeTarball(t, 1)
	as := func(user string) []string {
		return []string{"IMAGEGATE_SERVER=" + server, "IMAGEGATE_USERNAME=" + user, "IMAGEGATE_PASSWORD=" + users[user]}
	}
	if _, stderr, err := runPush(t, nil, as("alice"), first, "--to", "team/app:1.0.0", "--quiet"); err != nil {
		t.Fatalf("creating 1.0.0: %v\n%s", err, stderr)
	}
	want := `tag team/app:1.0.0 is immutable (rule "team/**" tags "semver"); push a new tag instead`
	for _, args := range [][]string{{}, {"--override-immutable", "INC-9"}} {
		_, stderr, err := runPush(t, nil, as("alice"), append([]string{second, "--to", "team/app:1.0.0", "--quiet"}, args...)...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitRefused || !strings.Contains(err.Error()+stderr, want) {
			t.Fatalf("alice %v: %v\n%s\nwant exit %d and %q", args, err, stderr, exitRefused, want)
		}
		t.Logf("imagegate push %v prints: %q %q", args, err.Error(), stderr)
	}
	if _, stderr, err := runPush(t, nil, as("root"), second, "--to", "team/app:1.0.0", "--quiet", "--override-immutable", "INC-9"); err != nil {
		t.Fatalf("root's override: %v\n%s", err, stderr)
	}
}
