package ui

import (
	"reflect"
	"strings"
	"testing"
)

// parseScopes reads the form's PATTERN:ACTIONS lines as the CLI's
// --scope does, and refuses anything else with a readable message.
func TestParseScopes(t *testing.T) {
	good := map[string][]robotScope{
		"team/**:pull,push":                {{Repositories: "team/**", Actions: []string{"pull", "push"}}},
		" a/b : pull, push \r\n\nc:pull\n": {{Repositories: "a/b", Actions: []string{"pull", "push"}}, {Repositories: "c", Actions: []string{"pull"}}},
	}
	for in, want := range good {
		got, err := parseScopes(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseScopes(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n \n", "team/**", ":pull", "team/**:", strings.Repeat("a:pull\n", maxScopeLines+1)} {
		if got, err := parseScopes(in); err == nil {
			t.Errorf("parseScopes(%q) = %+v, want an error", in, got)
		}
	}
}

// FuzzParseScopes: any text gives scopes with a pattern and actions, or
// an error; never more than maxScopeLines.
func FuzzParseScopes(f *testing.F) {
	f.Add("team/**:pull,push\nx:pull")
	f.Add(":\n:")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseScopes(in)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > maxScopeLines {
			t.Fatalf("%d scopes", len(got))
		}
		for _, s := range got {
			if s.Repositories == "" || len(s.Actions) == 0 {
				t.Fatalf("empty scope %+v", s)
			}
		}
	})
}
