package liveserver

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireAllEnv names the environment variable that turns missing test
// prerequisites from skips into failures. `make test` and CI set it to "1" so
// that an end-to-end test can never pass by silently skipping.
const RequireAllEnv = "IMAGEGATE_TEST_REQUIRE_ALL"

// Unavailable reports that a prerequisite of the test is missing. The test is
// skipped, or fails when IMAGEGATE_TEST_REQUIRE_ALL=1. The message should say
// what is missing and how to provide it. Like t.Skipf and t.Fatalf it stops
// the calling goroutine, so it must be called from the test goroutine.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatalf(format+" ("+RequireAllEnv+"=1 makes this a failure)", args...)
	}
	t.Skipf(format, args...)
}

// RequireEnv returns the value of the environment variable envName. When it is
// unset or empty the test is skipped (see Unavailable) with a message naming
// the variable, what it should hold, and that `make test` sets it up.
func RequireEnv(t testing.TB, envName, what string) string {
	t.Helper()
	v := os.Getenv(envName)
	if v == "" {
		Unavailable(t, "%s is not set (%s); run the end-to-end tests with `make test`, "+
			"or set %s yourself", envName, what, envName)
	}
	return v
}

// RequireBinary returns the absolute path of the executable named by the
// environment variable envName. An unset variable skips the test (see
// RequireEnv). A variable that is set but names no executable file fails the
// test: that is a broken setup, not a missing one.
func RequireBinary(t testing.TB, envName string) string {
	t.Helper()
	p := RequireEnv(t, envName, "path to an executable")
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("%s=%q: resolve path: %v", envName, p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		t.Fatalf("%s=%q: %v", envName, p, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("%s=%q is not an executable file (mode %v)", envName, p, fi.Mode())
	}
	return abs
}
