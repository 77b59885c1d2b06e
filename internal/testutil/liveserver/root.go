package liveserver

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the nearest directory at or above the working directory
// (the package directory under go test) that holds go.mod: where scripts/
// and build/ are.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
