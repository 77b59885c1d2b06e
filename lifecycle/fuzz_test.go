package lifecycle

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// FuzzImmutability: any rule text either compiles or is refused with an
// error, and a compiled rule decides any tag without panicking; a change
// that creates a tag or keeps its digest is never refused.
func FuzzImmutability(f *testing.F) {
	f.Add("prod/**", "v*.*.*", "v1.2.3")
	f.Add("**", Semver, "1.0.0-rc.1")
	f.Add("a/*/b", "[a-", "x")
	f.Fuzz(func(t *testing.T, repos, pattern, tag string) {
		im, err := NewImmutability([]ImmutableRule{{Repositories: repos, Tags: []string{pattern}}})
		if err != nil {
			return
		}
		d := digest.FromString(tag)
		if im.Check(Change{Repository: "prod/api", Tag: tag, To: d}) != nil ||
			im.Check(Change{Repository: "prod/api", Tag: tag, From: d, To: d}) != nil {
			t.Fatalf("creating or re-pushing %q refused under %q %q", tag, repos, pattern)
		}
		if v := im.Check(Change{Repository: "prod/api", Tag: tag, From: d}); v != nil && v.Message() == "" {
			t.Fatal("a refusal without a message")
		}
	})
}
