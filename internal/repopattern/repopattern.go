// Package repopattern matches repository names against patterns, as used
// by policies keyed by repository: "*" matches within one path component,
// "**" matches any number of components (including none), anything else
// matches itself. "prod/**" matches prod/api and prod/a/b; "team/*/app"
// matches team/x/app only; "**" matches everything.
package repopattern

import (
	"fmt"
	"strings"
)

// Pattern is a compiled repository pattern.
type Pattern struct {
	text  string
	parts []string
}

// Compile checks and compiles pattern.
func Compile(pattern string) (Pattern, error) {
	if pattern == "" {
		return Pattern{}, fmt.Errorf("repository pattern is empty")
	}
	parts := strings.Split(pattern, "/")
	for _, p := range parts {
		if p == "" {
			return Pattern{}, fmt.Errorf("repository pattern %q has an empty component", pattern)
		}
		if strings.Contains(p, "**") && p != "**" {
			return Pattern{}, fmt.Errorf("repository pattern %q: ** must be a whole component", pattern)
		}
	}
	return Pattern{text: pattern, parts: parts}, nil
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(pattern string) Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.text }

// Match reports whether repository name matches p.
func (p Pattern) Match(name string) bool {
	return match(p.parts, strings.Split(name, "/"))
}

func match(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if match(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 || !component(pat[0], name[0]) {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// component matches one path component against a pattern component whose
// "*" stands for any run of characters.
func component(pat, s string) bool {
	star := strings.IndexByte(pat, '*')
	if star < 0 {
		return pat == s
	}
	prefix, rest := pat[:star], pat[star+1:]
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	s = s[len(prefix):]
	for i := 0; i <= len(s); i++ {
		if component(rest, s[i:]) {
			return true
		}
	}
	return false
}
