package lifecycle

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestTagPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, tag string
		want         bool
	}{
		{"v*.*.*", "v1.2.3", true},
		{"v*.*.*", "v1.2", false},
		{"release-*", "release-2026-01", true},
		{"release-*", "prerelease-1", false},
		{Semver, "1.2.3", true},
		{Semver, "v1.2.3", true},
		{Semver, "v1.2.3-rc.1", true},
		{Semver, "v1.2", false},
		{Semver, "1.2.3.4", false},
		{Semver, "latest", false},
		{Semver, "01.2.3", false},
		{"[0-9]*", "7", true},
		{"latest", "latest", true},
	} {
		p, err := CompileTag(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(c.tag); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.tag, got, c.want)
		}
	}
	for _, bad := range []string{"", "[", strings.Repeat("a", 300)} {
		if _, err := CompileTag(bad); err == nil {
			t.Errorf("CompileTag(%q) accepted", bad)
		}
	}
}

func TestCheckAllowsCreateAndSameDigestRefusesMoveAndDelete(t *testing.T) {
	im, err := NewImmutability([]ImmutableRule{{Repositories: "prod/**", Tags: []string{"v*.*.*", "release-*"}}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := digest.FromString("a"), digest.FromString("b")
	allowed := []Change{
		{Repository: "prod/api", Tag: "v1.2.3", To: a},          // create
		{Repository: "prod/api", Tag: "v1.2.3", From: a, To: a}, // retried push
		{Repository: "prod/api", Tag: "latest", From: a, To: b}, // not protected
		{Repository: "dev/api", Tag: "v1.2.3", From: a, To: b},  // other repository
	}
	for _, c := range allowed {
		if v := im.Check(c); v != nil {
			t.Errorf("%+v refused: %s", c, v.Message())
		}
	}
	v := im.Check(Change{Repository: "prod/api", Tag: "v1.2.3", From: a, To: b})
	if v == nil {
		t.Fatal("moving prod/api:v1.2.3 allowed")
	}
	want := `tag prod/api:v1.2.3 is immutable (rule "prod/**" tags "v*.*.*"); push a new tag instead`
	if v.Message() != want || v.Error().Message != want {
		t.Fatalf("message %q, want %q", v.Message(), want)
	}
	if v.Error().Code.Descriptor().Value != "DENIED" || v.Error().Code.Descriptor().HTTPStatusCode != http.StatusForbidden {
		t.Fatalf("code %v", v.Error().Code)
	}
	del := im.Check(Change{Repository: "prod/a/b", Tag: "release-9", From: a})
	if del == nil || del.Message() != `tag prod/a/b:release-9 is immutable (rule "prod/**" tags "release-*"); it cannot be deleted` {
		t.Fatalf("deletion: %+v", del)
	}
	var none *Immutability
	if none.Check(Change{Repository: "prod/api", Tag: "v1.2.3", From: a, To: b}) != nil || none.Enabled() {
		t.Fatal("the nil Immutability protects something")
	}
}

func TestOverrideNeedsAdminAndReason(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPut, "/", nil)
	r.Header.Set(OverrideHeader, "  hotfix\x00 INC-42\n ")
	reason := OverrideReason(r)
	if reason != "hotfix INC-42" {
		t.Fatalf("reason %q", reason)
	}
	if MayOverride(false, reason) || MayOverride(true, "") || !MayOverride(true, reason) {
		t.Fatal("override needs an administrator and a reason")
	}
	r.Header.Set(OverrideHeader, strings.Repeat("x", 1000))
	if n := len(OverrideReason(r)); n != maxReason {
		t.Fatalf("reason of %d characters, want it cut at %d", n, maxReason)
	}
}
