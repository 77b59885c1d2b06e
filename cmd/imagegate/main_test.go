package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runCLI runs the command line args with environ and an empty standard
// input; it returns standard output and error together, and the error.
func runCLI(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &out, environ)
	return out.String(), err
}

// cli runs the command line args as main does — with stdin, environ and
// captured streams — and returns what it printed and its exit status.
func cli(t *testing.T, stdin string, environ []string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, environ)
	status = report(err, &errOut)
	return out.String(), errOut.String(), status
}

func TestVersion(t *testing.T) {
	out, err := runCLI(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "imagegate ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestConfigCheckRedactsSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("http:\n  secret: a-secret-of-more-than-32-characters!!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, []string{"IMAGEGATE_HTTP_ADDR=127.0.0.1:6000"}, "config", "check", path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "a-secret-of") || !strings.Contains(out, "secret: <redacted>") {
		t.Fatalf("secret not redacted:\n%s", out)
	}
	if !strings.Contains(out, "addr: 127.0.0.1:6000") {
		t.Fatalf("environment overlay missing from the effective config:\n%s", out)
	}
}

func TestConfigCheckRejectsUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("storage:\n  drivr: filesystem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, nil, "config", "check", path)
	if err == nil || !strings.Contains(err.Error(), `unknown key "storage.drivr"`) {
		t.Fatalf("got %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"config"}, {"config", "check"}, {"serve", "extra"}} {
		if _, err := runCLI(t, nil, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

// TestServeStopsOnCancel runs serve on free ports and stops it through its
// context, as SIGTERM does.
func TestServeStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	environ := []string{
		"IMAGEGATE_HTTP_ADDR=127.0.0.1:0", "IMAGEGATE_DEBUG_ADDR=",
		"IMAGEGATE_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + filepath.Join(dir, "registry"),
		"IMAGEGATE_METADATA_BOLT_PATH=" + filepath.Join(dir, "metadata.db"),
		"IMAGEGATE_METADATA_OUTBOX=" + filepath.Join(dir, "outbox.db"),
		"IMAGEGATE_SCAN_CACHEDIR=" + filepath.Join(dir, "trivy"),
	}
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), out, out, environ) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for !strings.Contains(out.String(), `"msg":"registry listening"`) {
		select {
		case err := <-done:
			t.Fatalf("serve returned before listening: %v\n%s", err, out.String())
		case <-timeout:
			t.Fatalf("serve did not start listening:\n%s", out.String())
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"msg":"stopped"`) {
		t.Fatalf("no orderly stop in the log:\n%s", out.String())
	}
}
