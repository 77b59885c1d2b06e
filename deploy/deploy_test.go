package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

const (
	rulesFile     = "prometheus/imagegate-rules.yml"
	ruleTests     = "prometheus/tests"
	dashboardFile = "grafana/imagegate.json"
)

// promtool returns PROMTOOL_BIN (scripts/prometheus.sh install prints it);
// unset, the test is skipped — failed under IMAGEGATE_TEST_REQUIRE_ALL=1.
func promtool(t *testing.T) string {
	t.Helper()
	return liveserver.RequireBinary(t, "PROMTOOL_BIN")
}

// TestRulesPassPromtool: the shipped rules are valid (`promtool check
// rules`) and every unit test of them passes (`promtool test rules`): each
// alert fires on its synthetic series and stays silent on a normal one.
func TestRulesPassPromtool(t *testing.T) {
	bin := promtool(t)
	if out, err := exec.Command(bin, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	tests, err := filepath.Glob(filepath.Join(ruleTests, "*.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule tests in %s (%v)", ruleTests, err)
	}
	out, err := exec.Command(bin, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "SUCCESS"); n != len(tests) {
		t.Fatalf("promtool test rules: %d of %d files passed:\n%s", n, len(tests), out)
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTestFile is the part of a promtool test file the tests read.
type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			Alert string `yaml:"alertname"`
			Exp   []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// ruleNames returns the alerts and the recording rules of the rules file.
func ruleNames(t *testing.T) (alerts, records map[string]bool) {
	t.Helper()
	var rules ruleFile
	readYAML(t, rulesFile, &rules)
	alerts, records = map[string]bool{}, map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts[r.Alert] = true
			}
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	return alerts, records
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestEveryAlertIsTested: for every alert of the rules file some test
// expects it to fire and some test expects it silent, and no test names an
// alert that does not exist. (Whether they pass is promtool's job above;
// this needs no promtool.)
func TestEveryAlertIsTested(t *testing.T) {
	alerts, _ := ruleNames(t)
	if len(alerts) == 0 {
		t.Fatal("no alerts in " + rulesFile)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(ruleTests, "*.yml"))
	for _, f := range files {
		var tf ruleTestFile
		readYAML(t, f, &tf)
		if !slices.Equal(tf.RuleFiles, []string{"../imagegate-rules.yml"}) {
			t.Errorf("%s tests %v, want [../imagegate-rules.yml]", f, tf.RuleFiles)
		}
		for _, tc := range tf.Tests {
			for _, c := range tc.Cases {
				if !alerts[c.Alert] {
					t.Errorf("%s (%s) tests alert %q, which the rules do not define", f, tc.Name, c.Alert)
				}
				if len(c.Exp) > 0 {
					fires[c.Alert] = true
				} else {
					silent[c.Alert] = true
				}
			}
		}
	}
	for a := range alerts {
		if !fires[a] {
			t.Errorf("no test makes %s fire", a)
		}
		if !silent[a] {
			t.Errorf("no test keeps %s silent on normal series", a)
		}
	}
}

// metricName matches the series names an expression can reference.
var metricName = regexp.MustCompile(`\b(?:imagegate|registry)[a-z0-9_:]*`)

// TestDashboard: the dashboard is valid JSON, its panels have unique ids
// and queries, and every recording rule it reads is defined in the rules
// file. (registry's TestMonitoringNamesExist checks that every raw metric
// it reads is one the server exports.)
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	_, recorded := ruleNames(t)
	ids := map[int]bool{}
	queries := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			for _, name := range metricName.FindAllString(q.Expr, -1) {
				if strings.Contains(name, ":") && !recorded[name] {
					t.Errorf("panel %q reads %s, which no recording rule defines", p.Title, name)
				}
			}
		}
	}
	if dash.UID == "" || queries < 20 {
		t.Errorf("dashboard uid %q with %d queries", dash.UID, queries)
	}
}
