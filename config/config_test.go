package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:5000" || cfg.Storage.Driver != "filesystem" ||
		cfg.Storage.Filesystem.RootDirectory != "./data/registry" || !cfg.Storage.Delete ||
		!cfg.Storage.UploadPurging.Enabled {
		t.Fatalf("defaults differ from the documented ones: %+v", cfg)
	}
}

// TestExampleMatchesDefaults keeps config/example.yaml loading, and keeps it
// documenting every key with its real default.
func TestExampleMatchesDefaults(t *testing.T) {
	cfg, err := Load("example.yaml", nil)
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("example.yaml differs from Default():\nexample: %+v\ndefault: %+v", cfg, Default())
	}
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves(reflect.ValueOf(Default()).Elem(), "") {
		if !hasPath(doc, strings.Split(l.path, ".")) {
			t.Errorf("example.yaml does not document %s", l.path)
		}
	}
}

func hasPath(m map[string]any, path []string) bool {
	v, ok := m[path[0]]
	if !ok {
		return false
	}
	if len(path) == 1 {
		return true
	}
	sub, ok := v.(map[string]any)
	return ok && hasPath(sub, path[1:])
}

func TestFileOverlaysDefaults(t *testing.T) {
	cfg, err := Parse("test", []byte("http:\n  addr: 0.0.0.0:6000\nstorage:\n  delete: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "0.0.0.0:6000" || cfg.Storage.Delete {
		t.Fatalf("file values not applied: %+v", cfg)
	}
	if cfg.HTTP.ShutdownTimeout != 30*time.Second || cfg.Storage.Driver != "filesystem" {
		t.Fatalf("keys absent from the file lost their defaults: %+v", cfg)
	}
}

func TestEmptyFileMeansDefaults(t *testing.T) {
	cfg, err := Parse("empty", nil)
	if err != nil || !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("got %+v, %v", cfg, err)
	}
}

// TestTagLimitSettings checks limits.tagsperrepository: 20,000 by
// default, 0 (unlimited) and any positive count accepted.
func TestTagLimitSettings(t *testing.T) {
	if got := Default().Limits.TagsPerRepository; got != 20000 {
		t.Errorf("default limits.tagsperrepository = %d, want 20000", got)
	}
	for _, n := range []int{0, 1, 3, 1000000} {
		cfg, err := Parse("test", fmt.Appendf(nil, "limits:\n  tagsperrepository: %d\n", n))
		if err != nil {
			t.Fatalf("tagsperrepository %d refused: %v", n, err)
		}
		if cfg.Limits.TagsPerRepository != n {
			t.Errorf("tagsperrepository %d read as %d", n, cfg.Limits.TagsPerRepository)
		}
	}
}

func TestEnvOverlay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("http:\n  addr: 127.0.0.1:7000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, []string{
		"IMAGEGATE_HTTP_ADDR=127.0.0.1:5001", // environment beats the file
		"IMAGEGATE_DEBUG_ADDR=127.0.0.1:5002",
		"IMAGEGATE_HTTP_SHUTDOWNTIMEOUT=5s",
		"IMAGEGATE_STORAGE_DELETE=false",
		"IMAGEGATE_STORAGE_FILESYSTEM_ROOTDIRECTORY=/srv/registry",
		"IMAGEGATE_LIMITS_MANIFESTBYTES=1024",
		"PATH=/usr/bin", // other variables are ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.HTTP.Addr = "127.0.0.1:5001"
	want.Debug.Addr = "127.0.0.1:5002"
	want.HTTP.ShutdownTimeout = 5 * time.Second
	want.Storage.Delete = false
	want.Storage.Filesystem.RootDirectory = "/srv/registry"
	want.Limits.ManifestBytes = 1024
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestEveryKeyHasAnEnvironmentVariable(t *testing.T) {
	for _, l := range leaves(reflect.ValueOf(Default()).Elem(), "") {
		name := EnvName(l.path)
		if strings.ContainsAny(strings.TrimPrefix(name, EnvPrefix), ".-") {
			t.Errorf("%s maps to an unusable variable name %s", l.path, name)
		}
	}
}

func TestRejects(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		env     []string
		wantErr []string // substrings the error must contain
	}{
		{"unknown top-level key", "htp:\n  addr: x\n", nil, []string{`unknown key "htp"`, "line 1", "valid keys here: analysis, auth, debug, http, lifecycle, limits, log, metadata, metrics, notifications, scan, security, singlenode, storage, ui, upload, validation"}},
		{"unknown nested key", "http:\n  adress: 127.0.0.1:1\n", nil, []string{`unknown key "http.adress"`, "line 2"}},
		{"unknown deep key", "storage:\n  filesystem:\n    root: /x\n", nil, []string{`"storage.filesystem.root"`}},
		{"unknown env var", "", []string{"IMAGEGATE_HTTP_ADRR=1"}, []string{"IMAGEGATE_HTTP_ADRR", "names no configuration key"}},
		{"bad env duration", "", []string{"IMAGEGATE_HTTP_IDLETIMEOUT=soon"}, []string{"IMAGEGATE_HTTP_IDLETIMEOUT", "http.idletimeout", `invalid duration "soon"`}},
		{"bad env bool", "", []string{"IMAGEGATE_STORAGE_DELETE=maybe"}, []string{"storage.delete", "invalid boolean"}},
		{"bad yaml type", "http:\n  shutdowntimeout: [1]\n", nil, []string{"shutdowntimeout"}},
		{"bad addr", "http:\n  addr: localhost\n", nil, []string{"http.addr: must be host:port"}},
		{"bad log level", "log:\n  level: loud\n", nil, []string{`log.level: must be one of debug, info, warn, error, got "loud"`}},
		{"bad driver", "storage:\n  driver: floppy\n", nil, []string{`storage.driver: must be one of filesystem, s3, inmemory, got "floppy"`}},
		{"tls half set", "http:\n  tls:\n    certificate: /nonexistent.pem\n", nil, []string{"http.tls: certificate and key must be set together", "http.tls.certificate: cannot read"}},
		{"short secret", "http:\n  secret: short\n", nil, []string{"http.secret: must be at least 32 characters"}},
		{"manifest limit too big", "limits:\n  manifestbytes: 99999999\n", nil, []string{"limits.manifestbytes: must be between 1 and 4194304"}},
		{"negative tag limit", "limits:\n  tagsperrepository: -1\n", nil, []string{"limits.tagsperrepository: must not be negative (0 means unlimited), got -1"}},
		{"negative tag limit from env", "", []string{"IMAGEGATE_LIMITS_TAGSPERREPOSITORY=-5"}, []string{"limits.tagsperrepository: must not be negative"}},
		{"zero timeout", "http:\n  shutdowntimeout: 0s\n", nil, []string{"http.shutdowntimeout: must be a positive duration"}},
		{"debug equals http", "debug:\n  addr: 127.0.0.1:5000\n", nil, []string{"debug.addr: must differ from http.addr"}},
		{"bad host", "http:\n  host: registry.example.com\n", nil, []string{"http.host: must be an absolute http or https URL"}},
		{"bad metrics repository pattern", "metrics:\n  repositories: [\"prod//x\"]\n", nil, []string{"metrics.repositories[0]:", "empty component"}},
		{"negative max DB age", "scan:\n  maxdbage: -1h\n", nil, []string{"scan.maxdbage: must not be negative"}},
		{"bad metadata driver", "metadata:\n  driver: sqlite\n", nil, []string{`metadata.driver: must be one of bolt, dynamodb, postgres, mysql, got "sqlite"`}},
		{"postgres without dsn", "metadata:\n  driver: postgres\n", nil, []string{"metadata.sql.dsn: must be set for the postgres driver", "IMAGEGATE_METADATA_SQL_DSN"}},
		{"mysql bad pool", "metadata:\n  driver: mysql\n  sql:\n    dsn: u@tcp(db:3306)/ig\n    maxopenconns: 0\n", nil, []string{"metadata.sql.maxopenconns: must be between 1 and 1000, got 0"}},
		{"sql bad tls mode", "metadata:\n  driver: postgres\n  sql:\n    dsn: postgres://db/ig\n    tls:\n      mode: prefer\n", nil, []string{`metadata.sql.tls.mode: must be one of disable, require, verify-ca, verify-full (or empty: as the dsn says), got "prefer"`}},
		{"sql iam without region or tls", "metadata:\n  driver: postgres\n  sql:\n    dsn: postgres://db/ig\n    iamauth:\n      enabled: true\n      endpoint: db\n", nil,
			[]string{"metadata.sql.iamauth.region: must be set", `metadata.sql.iamauth.endpoint: must be host:port`, "metadata.sql.tls.mode: must be require, verify-ca or verify-full with iamauth"}},
		{"sql short retention", "metadata:\n  driver: postgres\n  sql:\n    dsn: postgres://db/ig\n    retention: 10m\n", nil, []string{"metadata.sql.retention: must be 0 (keep forever) or at least 1h, got 10m0s"}},
		{"sql zero query timeout", "metadata:\n  driver: mysql\n  sql:\n    dsn: u@tcp(db:3306)/ig\n    querytimeout: 0s\n", nil, []string{"metadata.sql.querytimeout: must be a positive duration"}},
		{"bad fail mode", "metadata:\n  failmode: sometimes\n", nil, []string{`metadata.failmode: must be one of closed, open`}},
		{"dynamodb without table", "metadata:\n  driver: dynamodb\n  dynamodb:\n    table: \"\"\n", nil, []string{"metadata.dynamodb.table: must be set"}},
		{"dynamodb bad endpoint", "metadata:\n  driver: dynamodb\n  dynamodb:\n    endpoint: localhost:8000\n", nil, []string{"metadata.dynamodb.endpoint: must be an http or https URL"}},
		{"immutable rule without tags", "lifecycle:\n  immutable:\n    - repositories: prod/**\n", nil, []string{"lifecycle.immutable[0].tags: needs at least one tag pattern"}},
		{"bad immutable tag glob", "lifecycle:\n  immutable:\n    - repositories: prod/**\n      tags: [\"v[1\"]\n", nil, []string{"lifecycle.immutable[0].tags[0]:", "syntax error in pattern"}},
		{"quota without a limit", "lifecycle:\n  quotas:\n    - repositories: \"**\"\n      scope: namespace\n", nil, []string{"lifecycle.quotas[0]: needs maxbytes or maxrepositories"}},
		{"retention rule without keeplast or keepdays", "lifecycle:\n  retention:\n    - repositories: dev/**\n      keeptags: [x]\n", nil, []string{"lifecycle.retention[0]: needs keeplast or keepdays"}},
		{"bad retention untagged", "lifecycle:\n  retention:\n    - repositories: dev/**\n      keepdays: 3\n      untagged: drop\n", nil, []string{`lifecycle.retention[0].untagged: must be keep or delete, got "drop"`}},
		{"bad retention keeptags", "lifecycle:\n  retention:\n    - repositories: dev/**\n      keepdays: 3\n      keeptags: [\"[\"]\n", nil, []string{"lifecycle.retention[0].keeptags[0]:"}},
		{"keeppulleddays without pull tracking", "lifecycle:\n  pulls:\n    enabled: false\n  retention:\n    - repositories: dev/**\n      keepdays: 3\n      keeppulleddays: 7\n", nil, []string{"lifecycle.retention[0].keeppulleddays: needs lifecycle.pulls.enabled: true"}},
		{"keeppulleddays past the pull expiry", "lifecycle:\n  pulls:\n    expiry: 48h\n  retention:\n    - repositories: dev/**\n      keepdays: 3\n      keeppulleddays: 7\n", nil, []string{"lifecycle.retention[0].keeppulleddays: 7 days is longer than lifecycle.pulls.expiry 48h0m0s"}},
		{"pull flush interval zero", "lifecycle:\n  pulls:\n    flushinterval: 0s\n", nil, []string{"lifecycle.pulls.flushinterval: must be between 1s and 1h, got 0s"}},
		{"retention schedule too short", "lifecycle:\n  retentionschedule: 5s\n", nil, []string{"lifecycle.retentionschedule: must be at least 1m"}},
		{"retention max deletions zero", "lifecycle:\n  retentionmaxdeletions: 0\n", nil, []string{"lifecycle.retentionmaxdeletions: must be between 1 and 100000, got 0"}},
		{"bad quota scope", "lifecycle:\n  quotas:\n    - repositories: \"**\"\n      scope: team\n      maxbytes: 10\n", nil, []string{`lifecycle.quotas[0].scope: must be namespace or pattern, got "team"`}},
		{"bad analysis mode", "analysis:\n  policies:\n    - repositories: \"**\"\n      mode: block\n", nil, []string{`analysis.policies[0].mode: must be enforce, audit or off, got "block"`}},
		{"analysis efficiency as percent", "analysis:\n  policies:\n    - repositories: \"team/**\"\n      mode: enforce\n      minefficiency: 90\n", nil, []string{"analysis.policies[0].minefficiency: must be between 0 and 1 (0.9 is 90 %), got 90"}},
		{"analysis enforce without threshold", "analysis:\n  policies:\n    - repositories: \"team/**\"\n      mode: enforce\n", nil, []string{"analysis.policies[0]: enforce needs a threshold"}},
		{"analysis bad pattern and limits", "analysis:\n  maxlayerentries: 0\n  policies:\n    - repositories: \"a//b\"\n      mode: audit\n      maxwastedbytes: -1\n      maxwastedpercent: 101\n", nil, []string{
			"analysis.maxlayerentries: must be at least 1", "analysis.policies[0].repositories", "analysis.policies[0].maxwastedbytes: must not be negative", "analysis.policies[0].maxwastedpercent: must be between 0 and 100, got 101"}},
		{"bad scan mode", "scan:\n  policies:\n    - repositories: \"**\"\n      mode: block\n      severity: HIGH\n      onerror: reject\n", nil, []string{`scan.policies[0].mode: must be enforce, audit or off, got "block"`}},
		{"bad severity", "scan:\n  policies:\n    - repositories: \"**\"\n      mode: enforce\n      severity: high\n      onerror: reject\n", nil, []string{`scan.policies[0].severity`}},
		{"allowlist without reason", "scan:\n  policies:\n    - repositories: \"**\"\n      mode: enforce\n      severity: HIGH\n      onerror: reject\n      allowlist:\n        - id: CVE-1\n", nil, []string{"scan.policies[0].allowlist[0]: needs an id and a reason"}},
		{"bad expiry", "scan:\n  policies:\n    - repositories: \"**\"\n      mode: enforce\n      severity: HIGH\n      onerror: reject\n      allowlist:\n        - {id: CVE-1, reason: r, expires: soon}\n", nil, []string{"scan.policies[0].allowlist[0].expires"}},
		{"s3 without bucket", "storage:\n  driver: s3\n", nil, []string{"storage.s3.bucket: must be set"}},
		{"s3 bad prepare", "storage:\n  driver: s3\n  s3:\n    bucket: b\n    prepare: yes\n", nil, []string{`storage.s3.prepare: must be off, check or apply`}},
		{"s3 half credentials", "storage:\n  driver: s3\n  s3:\n    bucket: b\n    accesskey: AK\n", nil, []string{"storage.s3.accesskey: accesskey and secretkey must be set together"}},
		{"several at once", "log:\n  level: x\nstorage:\n  driver: y\n", nil, []string{"log.level", "storage.driver"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := Default()
	cfg.HTTP.Secret = "0123456789abcdef0123456789abcdef-very-secret"
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(out), cfg.HTTP.Secret.String()} {
		if strings.Contains(s, "very-secret") || !strings.Contains(s, Redacted) {
			t.Fatalf("secret leaked or not marked redacted: %s", s)
		}
	}
	if cfg.HTTP.Secret.Reveal() != "0123456789abcdef0123456789abcdef-very-secret" {
		t.Fatal("Reveal lost the value")
	}
}

func TestFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("#", maxFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}

func TestDistributionConfig(t *testing.T) {
	cfg := Default()
	cfg.Storage.Delete = false
	d := cfg.Distribution("s3cr3t-0123456789abcdef0123456789")
	if d.Storage.Type() != FilesystemDriverImagegate || d.Storage.Parameters()["rootdirectory"] != "./data/registry" {
		t.Fatalf("storage: %#v", d.Storage)
	}
	if d.Storage["delete"]["enabled"] != false {
		t.Fatalf("delete: %#v", d.Storage["delete"])
	}
	if d.HTTP.Secret != "s3cr3t-0123456789abcdef0123456789" {
		t.Fatal("secret not passed")
	}
	purge := d.Storage["maintenance"]["uploadpurging"].(map[any]any)
	if purge["age"] != "168h0m0s" || purge["enabled"] != true {
		t.Fatalf("uploadpurging: %#v", purge)
	}
}

func TestLintRulesFromYAML(t *testing.T) {
	cfg, err := Parse("lint", []byte("validation:\n  lint:\n    - repositories: prod/**\n      labels: [org.opencontainers.image.source]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Validation.Lint) != 1 || cfg.Validation.Lint[0].Repositories != "prod/**" {
		t.Fatalf("lint rules: %+v", cfg.Validation.Lint)
	}
	if _, err := Parse("lint", []byte("validation:\n  lint:\n    - repositories: prod//x\n      labels: [a]\n")); err == nil ||
		!strings.Contains(err.Error(), "validation.lint[0].repositories") {
		t.Fatalf("bad pattern: %v", err)
	}
	if _, err := Parse("lint", []byte("validation:\n  lint:\n    - repositories: prod/**\n      lables: [a]\n")); err == nil ||
		!strings.Contains(err.Error(), "validation.lint") {
		t.Fatalf("unknown key inside a lint rule: %v", err)
	}
}

// TestSweepGraceCoversACommit: a grace shorter than the longest commit
// could resolve a running commit's record; it is refused by name.
func TestSweepGraceCoversACommit(t *testing.T) {
	for _, tc := range []struct {
		grace, interval time.Duration
		refused         string
	}{
		{2 * time.Minute, 10 * time.Second, ""},
		{time.Minute, time.Minute, "metadata.sweep.grace"},
		{5 * time.Minute, 0, "metadata.sweep.interval"},
	} {
		c := Default()
		c.Metadata.Sweep = Sweep{Grace: tc.grace, Interval: tc.interval}
		err := c.Validate()
		if tc.refused == "" && err != nil {
			t.Errorf("grace %v interval %v refused: %v", tc.grace, tc.interval, err)
		}
		if tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)) {
			t.Errorf("grace %v interval %v: err = %v, want it to name %s", tc.grace, tc.interval, err, tc.refused)
		}
	}
}
