package lifecycle

import (
	"strings"
	"testing"
	"time"

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

// FuzzRetention: any rule either compiles or is refused with an error
// naming its key; a compiled rule decides every tag, never deletes one
// matching keeptags, and keeps at least keeplast.
func FuzzRetention(f *testing.F) {
	f.Add("dev/**", "release-*", 3, 10, "release-1", int64(3600))
	f.Add("**", Semver, 0, 1, "v1.2.3", int64(-5))
	f.Add("a/*/b", "[a-", -1, 40000, "x", int64(0))
	f.Fuzz(func(t *testing.T, repos, keep string, keepLast, keepDays int, tag string, ageSeconds int64) {
		rt, err := NewRetention([]RetentionRule{{Repositories: repos, KeepLast: keepLast, KeepDays: keepDays, KeepTags: []string{keep}}})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "lifecycle.retention[0]") {
				t.Fatalf("error %q names no key", err)
			}
			return
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tags := []TagState{
			{Tag: tag, PushedAt: base.Add(-time.Duration(ageSeconds) * time.Second)},
			{Tag: tag + "-b", PushedAt: base.Add(-1000 * 24 * time.Hour)},
		}
		for _, repo := range []string{"dev/x", "a/c/b", "prod/api"} {
			p, ok := rt.Plan(repo, tags, nil, base)
			if !ok {
				continue
			}
			if len(p.Keep)+len(p.Delete) != len(tags) || len(p.Keep) < min(keepLast, len(tags)) {
				t.Fatalf("%s: kept %d, deleted %d of %d (keeplast %d)", repo, len(p.Keep), len(p.Delete), len(tags), keepLast)
			}
			k, _ := CompileTag(keep)
			for _, d := range p.Delete {
				if k.Match(d.Tag) || d.Why == "" {
					t.Fatalf("%s: deleted %q (%q) though keeptags %q", repo, d.Tag, d.Why, keep)
				}
			}
		}
	})
}
