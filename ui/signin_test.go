package ui

import (
	"strings"
	"testing"
)

// TestSafeNext: after signing in, the form goes only to a page of the UI
// itself — never to another site (an open redirect would make the
// sign-in form a phishing relay).
func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/ui/image?name=team/app&digest=sha256:ab": "/ui/image?name=team/app&digest=sha256:ab",
		"/ui/repositories":                         "/ui/repositories",
		"":                                         "/ui/repositories",
		"https://evil.example/ui/":                 "/ui/repositories",
		"//evil.example/ui/":                       "/ui/repositories",
		"/ui/\\evil.example":                       "/ui/repositories",
		"/ui/login?next=/ui/login":                 "/ui/repositories",
		"/api/v1/robots":                           "/ui/repositories",
		"/ui/x\r\nSet-Cookie: a=b":                 "/ui/repositories",
		"/ui/" + strings.Repeat("a", 3000):         "/ui/repositories",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// FuzzSafeNext: whatever next is, the answer is a path of the UI on this
// origin.
func FuzzSafeNext(f *testing.F) {
	f.Add("/ui/repositories")
	f.Add("//evil")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/ui/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the UI", next, got)
		}
	})
}

// TestPathSafe: only the characters of repository names and digests
// reach an API path.
func TestPathSafe(t *testing.T) {
	for s, want := range map[string]bool{
		"team/app": true, "sha256:0123abcdef": true, "a.b_c-d": true,
		"": false, "team/app?user=x": false, "team/app%2f": false, "Team": false, "a#b": false,
	} {
		if got := pathSafe(s); got != want {
			t.Errorf("pathSafe(%q) = %v", s, got)
		}
	}
}
