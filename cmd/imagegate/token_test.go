package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestTokenRobotCommands drives create, list and revoke against a server
// with auth on, logging in as an admin with the password on stdin.
func TestTokenRobotCommands(t *testing.T) {
	server := startAuthRegistry(t)

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		args = append(append([]string{"token"}, args...), "--server", server, "--username", "root")
		err := run(context.Background(), args, strings.NewReader("root-pw\n"), &out, io.Discard, nil)
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
	if _, _, status := cli(t, "wrong\n", nil, "token", "robot", "list", "--server", server, "--username", "root"); status != 1 {
		t.Fatalf("a wrong admin password: exit status %d, want 1", status)
	}
}
