package lifecycle

import (
	"fmt"
	"path"
	"regexp"
)

// Semver is the shorthand tag pattern for semantic-version tags:
// MAJOR.MINOR.PATCH with an optional leading "v" and an optional
// pre-release ("-rc.1"); tags cannot hold a "+build" suffix. "1.2.3",
// "v1.2.3" and "v1.2.3-rc.1" match; "latest", "v1.2" and "1.2.3.4" do not.
const Semver = "semver"

var semverTag = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// maxTagPattern bounds a tag pattern (a tag is at most 128 characters).
const maxTagPattern = 256

// TagPattern matches tags: a glob as path.Match reads it ("*" any run of
// characters, "?" one, "[a-z]" a class; tags hold no "/"), or Semver.
type TagPattern struct {
	text string
}

// CompileTag checks and compiles a tag pattern.
func CompileTag(pattern string) (TagPattern, error) {
	switch {
	case pattern == "":
		return TagPattern{}, fmt.Errorf("tag pattern is empty")
	case len(pattern) > maxTagPattern:
		return TagPattern{}, fmt.Errorf("tag pattern of %d characters: at most %d", len(pattern), maxTagPattern)
	case pattern == Semver:
		return TagPattern{text: pattern}, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return TagPattern{}, fmt.Errorf("tag pattern %q: %w", pattern, err)
	}
	return TagPattern{text: pattern}, nil
}

// String returns the pattern as written.
func (p TagPattern) String() string { return p.text }

// Match reports whether tag matches p.
func (p TagPattern) Match(tag string) bool {
	if p.text == Semver {
		return semverTag.MatchString(tag)
	}
	ok, _ := path.Match(p.text, tag) // checked by CompileTag
	return ok
}
