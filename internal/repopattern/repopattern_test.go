package repopattern

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"**", "a", true},
		{"**", "a/b/c", true},
		{"prod/**", "prod/api", true},
		{"prod/**", "prod/a/b", true},
		{"prod/**", "prod", true},
		{"prod/**", "production/api", false},
		{"prod/*", "prod/api", true},
		{"prod/*", "prod/a/b", false},
		{"team/*/app", "team/x/app", true},
		{"team/*/app", "team/x/y/app", false},
		{"team/**/app", "team/x/y/app", true},
		{"team/app-*", "team/app-web", true},
		{"team/app-*", "team/api-web", false},
		{"*-svc", "billing-svc", true},
		{"library/alpine", "library/alpine", true},
		{"library/alpine", "library/alpine2", false},
		{"a/*b*c", "a/xxbyyc", true},
		{"a/*b*c", "a/xxbyy", false},
	}
	for _, tc := range cases {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tc.name); got != tc.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, p := range []string{"", "a//b", "a/**b", "/a"} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) accepted", p)
		}
	}
}
