package auth

import (
	"encoding/json"
	"strings"
	"testing"
)

// claimsJSON decodes claims the way verified tokens are (numbers as
// json.Number).
func claimsJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func compileRules(t *testing.T, rules ...OIDCRule) *oidcIssuer {
	t.Helper()
	is := &oidcIssuer{}
	for _, r := range rules {
		cr, err := compileOIDCRule(r, BuiltinRoles)
		if err != nil {
			t.Fatal(err)
		}
		is.rules = append(is.rules, cr)
	}
	return is
}

// TestOIDCRules maps the claims of GitLab, GitHub and Kubernetes tokens to
// scopes.
func TestOIDCRules(t *testing.T) {
	gitlab := `{"namespace_path":"group","project_path":"group/App","ref":"main","ref_protected":"true","project_id":42}`
	github := `{"repository":"Octo-Org/web.site","repository_owner":"octo-org","ref":"refs/heads/main","sub":"repo:octo-org/web.site:ref:refs/heads/main"}`
	k8s := `{"sub":"system:serviceaccount:ci:builder","kubernetes.io":{"namespace":"ci","serviceaccount":{"name":"builder"}},"groups":["dev","ops"]}`
	cases := []struct {
		name   string
		rules  []OIDCRule
		claims string
		want   []Scope // nil with wantErr false: admitted, no scope
		reject bool
	}{
		{"project_path to push", []OIDCRule{{Claim: "namespace_path", Equals: "group", Actions: []string{"push", "pull"}, Repositories: "{claim:project_path}/**"}},
			gitlab, []Scope{{"group/app/**", []string{"pull", "push"}}}, false},
		{"protected refs only", []OIDCRule{{Claim: "namespace_path", Equals: "group", And: []OIDCCondition{{Claim: "ref_protected", Equals: "false"}}, Role: "ci", Repositories: "x/**"}},
			gitlab, nil, true},
		{"number claim", []OIDCRule{{Claim: "project_id", Equals: "42", Role: "reader", Repositories: "shared/**"}},
			gitlab, []Scope{{"shared/**", []string{"pull"}}}, false},
		{"pattern on namespace", []OIDCRule{{Claim: "project_path", Pattern: "group/a*", Role: "reader", Repositories: "base/**"}},
			gitlab, nil, true}, // conditions are case-sensitive: group/App
		{"pattern matches", []OIDCRule{{Claim: "project_path", Pattern: "group/*", Role: "reader", Repositories: "base/**"}},
			gitlab, []Scope{{"base/**", []string{"pull"}}}, false},
		{"github owner and branch", []OIDCRule{{Claim: "repository_owner", Equals: "octo-org", And: []OIDCCondition{{Claim: "ref", Pattern: "refs/heads/*"}},
			Role: "developer", Repositories: "gh/{claim:repository}"}},
			github, []Scope{{"gh/octo-org/web.site", []string{"pull", "push"}}}, false},
		{"github other owner", []OIDCRule{{Claim: "repository_owner", Equals: "someone", Role: "ci", Repositories: "x"}}, github, nil, true},
		{"k8s nested claim", []OIDCRule{{Claim: "kubernetes.io.namespace", Equals: "ci", Role: "ci", Repositories: "k8s/{claim:kubernetes.io.serviceaccount.name}/**"}},
			k8s, []Scope{{"k8s/builder/**", []string{"pull", "push"}}}, false},
		{"k8s sub pattern", []OIDCRule{{Claim: "sub", Pattern: "system:serviceaccount:ci:*", Role: "reader", Repositories: "**"}},
			k8s, []Scope{{"**", []string{"pull"}}}, false},
		{"list claim", []OIDCRule{{Claim: "groups", Equals: "ops", Role: "reader", Repositories: "ops/**"}},
			k8s, []Scope{{"ops/**", []string{"pull"}}}, false},
		{"admit only", []OIDCRule{{Claim: "namespace_path", Equals: "group"}}, gitlab, nil, false},
		{"union of rules", []OIDCRule{
			{Claim: "namespace_path", Equals: "group", Role: "ci", Repositories: "{claim:project_path}/**"},
			{Claim: "namespace_path", Equals: "group", Role: "ci", Repositories: "{claim:project_path}/**"},
			{Claim: "ref", Equals: "main", Actions: []string{"pull"}, Repositories: "shared/**"},
			{Claim: "ref", Equals: "dev", Actions: []string{"delete"}, Repositories: "**"},
		}, gitlab, []Scope{{"group/app/**", []string{"pull", "push"}}, {"shared/**", []string{"pull"}}}, false},
		{"missing claim", []OIDCRule{{Claim: "nope", Equals: "x"}}, gitlab, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := compileRules(t, tc.rules...).grant(claimsJSON(t, tc.claims))
			if tc.reject {
				if err == nil {
					t.Fatalf("admitted with %+v", got)
				}
				return
			}
			if err != nil || !scopesEqual(got, tc.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// TestOIDCUnsafeClaims: claim values that could widen or escape a
// repository pattern are refused, the whole token with them.
func TestOIDCUnsafeClaims(t *testing.T) {
	is := compileRules(t, OIDCRule{Claim: "ok", Equals: "yes", Role: "ci", Repositories: "ci/{claim:p}/**"})
	for _, v := range []any{
		"", "..", "../x", "a/../b", "a/./b", "*", "a/*", "**", "a/**", "a//b", "a/", "/a", "a b", "a:b",
		"a\nb", "ä", "\u212Aey", "\u0130nfra", "{username}", "-a", "a-", "a..b", "_a", strings.Repeat("a", 256), []string{"a"}, map[string]string{"a": "b"}, nil,
	} {
		claims := map[string]any{"ok": "yes", "p": v}
		if s, err := is.grant(claims); err == nil {
			t.Errorf("%q: granted %+v", v, s)
		}
	}
	if _, err := is.grant(map[string]any{"ok": "yes"}); err == nil {
		t.Error("missing placeholder claim: granted")
	}
	for v, want := range map[string]string{
		"Group/App":    "ci/group/app/**",
		"a.b_c__d--e":  "ci/a.b_c__d--e/**",
		"0/1/2":        "ci/0/1/2/**",
		"octo/web.org": "ci/octo/web.org/**",
	} {
		s, err := is.grant(map[string]any{"ok": "yes", "p": v})
		if err != nil || len(s) != 1 || s[0].Repositories != want {
			t.Errorf("%q: %+v %v, want %s", v, s, err, want)
		}
	}
}

func TestClaimValue(t *testing.T) {
	c := claimsJSON(t, `{"a.b":"flat","a":{"b":"nested","c":{"d":true}},"x":{"y.z":"dotted key"}}`)
	for name, want := range map[string]string{"a.b": "flat", "a.c.d": "true", "x.y.z": "dotted key"} {
		v, ok := claimValue(c, name)
		s, _ := scalarString(v)
		if !ok || s != want {
			t.Errorf("%s: %v %v, want %s", name, v, ok, want)
		}
	}
	for _, name := range []string{"a.x", "b", ".a", "a."} {
		if v, ok := claimValue(c, name); ok {
			t.Errorf("%s: found %v", name, v)
		}
	}
}
