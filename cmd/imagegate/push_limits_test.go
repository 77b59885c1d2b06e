package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
)

// TestPushTooLarge: over upload.maxbytes the server answers 413 — early
// for a file (Content-Length), while streaming for a pipe — and push
// reports the refusal, not a broken connection.
func TestPushTooLarge(t *testing.T) {
	server := startRegistry(t, func(c *config.Config) { c.Upload.MaxBytes = 16 << 10 })
	path, _ := writeTarball(t, 2) // about 130 KiB
	for _, stdin := range []bool{false, true} {
		args := []string{path, "--server", server, "--to", "team/big:1", "--quiet"}
		var f *os.File
		if stdin {
			var err error
			if f, err = os.Open(path); err != nil {
				t.Fatal(err)
			}
			args[0] = "-"
		}
		_, _, err := runPush(t, f, nil, args...)
		if f != nil {
			f.Close()
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitRefused || !strings.Contains(err.Error(), "413") {
			t.Errorf("stdin=%v: got %v, want a 413 refusal (exit %d)", stdin, err, exitRefused)
		}
	}
}
