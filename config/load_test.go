package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadYAML writes doc to a file and loads it with environ.
func loadYAML(t *testing.T, doc string, environ []string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "imagegate.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, environ)
}

// TestDurationWithoutUnit: a bare number for a duration gets the same
// message from the file as from the environment, naming the key, where
// the file used to give yaml's "cannot unmarshal !!int `30` into
// time.Duration" (issue 15).
func TestDurationWithoutUnit(t *testing.T) {
	const friendly = `invalid duration "30": a number needs a unit (examples: 30s, 5m, 24h)`
	cases := []struct {
		name, doc string
		env       []string
		key       string
	}{
		{"file", "http:\n  shutdowntimeout: 30\n", nil, `key "http.shutdowntimeout" (line 2)`},
		{"environment", "", []string{"IMAGEGATE_HTTP_SHUTDOWNTIMEOUT=30"}, "IMAGEGATE_HTTP_SHUTDOWNTIMEOUT (key http.shutdowntimeout)"},
		{"file, in a list", "auth:\n  oidc:\n    - issuer: https://gitlab.example.com\n      cachettl: 30\n", nil, `key "auth.oidc[0].cachettl" (line 4)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.doc, tc.env)
			if err == nil || !strings.Contains(err.Error(), friendly) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("got %v\nwant %q naming %s", err, friendly, tc.key)
			}
			if strings.Contains(err.Error(), "cannot unmarshal") {
				t.Fatalf("yaml's raw error leaked: %v", err)
			}
		})
	}
	cfg, err := loadYAML(t, "http:\n  shutdowntimeout: 45s\n", nil)
	if err != nil || cfg.HTTP.ShutdownTimeout.Seconds() != 45 {
		t.Fatalf("45s: %v %v", cfg, err)
	}
}

// TestEveryProblemReported: unknown keys, unparsable values in the file
// and the environment, unknown variables and invalid values are reported
// together, one line each with its key — not only the first (issue 15).
func TestEveryProblemReported(t *testing.T) {
	doc := "http:\n  shutdowntimeout: 30\n  adress: 127.0.0.1:5000\nscan:\n  workers: many\nlog:\n  level: loud\n"
	env := []string{"IMAGEGATE_HTTP_IDLETIMEOUT=soon", "IMAGEGATE_HTTP_ADRESS=x", "IMAGEGATE_SERVER=ignored"}
	_, err := loadYAML(t, doc, env)
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(strings.TrimPrefix(err.Error(), "config: invalid: "), "\n")
	want := []string{
		`key "http.shutdowntimeout" (line 2): invalid duration "30"`,
		`unknown key "http.adress" (line 3)`,
		`key "scan.workers" (line 5)`,
		`log.level: must be one of debug, info, warn, error, got "loud"`,
		`IMAGEGATE_HTTP_IDLETIMEOUT (key http.idletimeout): invalid duration "soon"`,
		`unknown environment variable IMAGEGATE_HTTP_ADRESS`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d (one per problem):\n%v", len(lines), len(want), err)
	}
	if !errors.Is(err, errUnknownEnv) {
		t.Error("errors.Is(err, errUnknownEnv) is false")
	}
}

// TestOnErrorDefault: onerror may be left out — reject under enforce
// (fail closed), accept under audit, not needed at all under off — and a
// wrong value's message says so (issue 15: it was required everywhere,
// and nothing said so).
func TestOnErrorDefault(t *testing.T) {
	doc := `scan:
  policies:
    - {repositories: "prod/**", mode: enforce, severity: HIGH}
    - {repositories: "dev/**", mode: audit, severity: HIGH}
    - {repositories: "scratch/**", mode: "off"}
    - {repositories: "**", mode: enforce, severity: HIGH, onerror: accept}
`
	cfg, err := loadYAML(t, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range cfg.Scan.Policies {
		got = append(got, p.OnError)
	}
	if strings.Join(got, ",") != "reject,accept,accept,accept" {
		t.Fatalf("onerror filled as %v, want reject,accept,accept,accept", got)
	}
	_, err = loadYAML(t, "scan:\n  policies:\n    - {repositories: \"**\", mode: enforce, severity: HIGH, onerror: retry}\n", nil)
	if err == nil || !strings.Contains(err.Error(), `scan.policies[0].onerror: must be reject or accept (or left out: reject under enforce, accept under audit), got "retry"`) {
		t.Fatalf("got %v", err)
	}
}
