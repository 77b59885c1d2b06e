package reponame

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
)

func TestCheck(t *testing.T) {
	for _, name := range []string{"a", "team/app", "a.b_c__d--e/0", "example.com/app", "localhost/app",
		strings.Repeat("a", MaxLength), strings.Repeat("a/", 127) + "b"} {
		if err := Check(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
		if _, err := reference.WithName(name); err != nil {
			t.Errorf("%q: accepted here, refused by distribution: %v", name, err)
		}
	}
	for _, name := range []string{"", "Team/app", "team/App", "localhost:5000/app", "[::1]/app", "a//b", "a/", "/a",
		"a/../b", "a/./b", "-a", "a-", "a..b", "a___b", "_a", "a b", "a%2fb", "\u212Aey/app",
		strings.Repeat("a", MaxLength+1), strings.Repeat("a/", 127) + "bc"} {
		if err := Check(name); err == nil {
			t.Errorf("%q: accepted", name)
		}
	}
}

// FuzzCheck: every name Check accepts, distribution accepts too (so no
// door can pass on a name the storage below refuses).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"team/app", "Team/app", "localhost:5000/app", "a.b/c", strings.Repeat("a/", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if Check(name) != nil {
			return
		}
		if _, err := reference.WithName(name); err != nil {
			t.Fatalf("%q: accepted, but distribution refuses it: %v", name, err)
		}
		if len(name) > MaxLength {
			t.Fatalf("%q: accepted at %d characters", name, len(name))
		}
	})
}

// TestCheckNamesTheComponent: a refusal names the component that breaks
// the grammar, so a user whose name cannot be a component (its personal
// namespace) reads why at every door.
func TestCheckNamesTheComponent(t *testing.T) {
	for name, want := range map[string]string{
		"John/app":        `path component "John" is not lower-case`,
		"team/app_":       `path component "app_" is not lower-case`,
		"john@corp/app":   `path component "john@corp" is not lower-case`,
		"a//b":            "empty path component",
		"john.doe/a..b/c": `path component "a..b" is not lower-case`,
	} {
		if err := Check(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", name, err, want)
		}
	}
	for _, c := range []string{"john.doe", "mary_jane", "ci__bot", "a-b--c", "0"} {
		if err := CheckComponent(c); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
	for _, c := range []string{"", "John", "x_", ".", "..", "a/b", "a*", "john@corp", "-a"} {
		if CheckComponent(c) == nil {
			t.Errorf("%q: accepted as a component", c)
		}
	}
}
