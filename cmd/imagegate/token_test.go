package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// TestTokenRobotCommands drives create, list and revoke against a server
// with auth on, logging in as an admin with the password on stdin.
func TestTokenRobotCommands(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("root-pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(dir, "users")
	if err := os.WriteFile(htpasswd, []byte("root:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _ := registrytest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Enabled, cfg.Auth.Htpasswd = true, htpasswd
		cfg.Auth.SigningKey = filepath.Join(dir, "key.pem")
		cfg.Auth.Bindings = []config.AuthBinding{{Subjects: []string{"root"}, Role: "admin", Repositories: []string{"**"}}}
	})
	server := "http://" + srv.Addr().String()

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := tokenCmd(append(args, "--server", server, "--username", "root"), &out, strings.NewReader("root-pw\n"))
		return out.String(), err
	}
	out, err := run("robot", "create", "deployer", "--scope", "prod/**:pull", "--expires", "24h")
	if err != nil || !strings.Contains(out, "username: robot$deployer") || !strings.Contains(out, "secret:   igr_") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	out, err = run("robot", "list")
	if err != nil || !strings.Contains(out, "robot$deployer") || !strings.Contains(out, "prod/**:pull") || strings.Contains(out, "igr_") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err = run("robot", "revoke", "deployer"); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if _, err = run("robot", "revoke", "deployer"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("revoking twice: %v", err)
	}
	var out2 bytes.Buffer
	if err := tokenCmd([]string{"robot", "list", "--server", server, "--username", "root"}, &out2, strings.NewReader("wrong\n")); err == nil {
		t.Fatal("a wrong admin password was accepted")
	}
}
