// Package reponame checks repository names against the OCI distribution
// specification's grammar: the one name rule every door of imagegate (the
// /v2/ API, the token service's scopes, the tarball upload, /api/v1)
// applies, so that a name one of them accepts is never refused, or
// mishandled, by another.
package reponame

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxLength is the longest repository name accepted, in bytes
// (distribution's limit).
const MaxLength = 255

// grammar is the distribution specification's <name>: lower-case path
// components of a-z and 0-9, joined inside by ".", "_", "__" or dashes,
// separated by "/".
var grammar = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// component is one path component of grammar.
var component = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// Rule states the grammar for error messages.
const Rule = "lower-case path components of a-z 0-9 joined by . _ __ or -, separated by /, at most 255 characters"

// ComponentRule states the grammar of one path component for error
// messages.
const ComponentRule = "lower-case a-z 0-9, joined inside by . _ __ or -"

// Check returns nil when name is a repository name of the OCI
// distribution specification of at most MaxLength bytes, else an error
// saying which rule it breaks. It is narrower than distribution's
// reference.WithName, which also admits a registry host as the first
// component: "Team/app" (upper case) and "localhost:5000/app" (a port)
// pass there, and the latter reached the storage driver as a path it
// refuses (a 500).
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("repository name is empty")
	case len(name) > MaxLength:
		return fmt.Errorf("repository name is %d characters; at most %d are allowed", len(name), MaxLength)
	case !grammar.MatchString(name):
		for c := range strings.SplitSeq(name, "/") {
			if err := CheckComponent(c); err != nil {
				return err
			}
		}
		return fmt.Errorf("repository name is not %s", Rule) // unreachable: grammar is components joined by "/"
	}
	return nil
}

// maxEchoed bounds the part of a refused name Refusal repeats.
const maxEchoed = 64

// Refusal is the message with which every door (/v2/, the upload door)
// refuses name, which Check refused with err: the name, cut to 64
// bytes, and why.
func Refusal(name string, err error) string {
	if len(name) > maxEchoed {
		name = name[:maxEchoed] + "…"
	}
	return fmt.Sprintf("invalid repository name %q: %v (a name is %s)", name, err, Rule)
}

// CheckComponent returns nil when c can be one path component of a
// repository name — a personal namespace is its user's name as the first
// component — else an error naming c and the rule it breaks.
func CheckComponent(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("empty path component")
	case !component.MatchString(c):
		return fmt.Errorf("path component %q is not %s", c, ComponentRule)
	}
	return nil
}
