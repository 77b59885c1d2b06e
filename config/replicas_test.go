package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReplicatedRequiresSharedState: with S3 storage and no singlenode,
// each piece of per-replica state is refused with a message saying why and
// how to fix it; every combination replicas can share, and every single
// node, is accepted.
func TestReplicatedRequiresSharedState(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "signing-key.pem")
	users := filepath.Join(dir, "users.htpasswd")
	for _, f := range []string{key, users} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "absent", "signing-key.pem")
	const (
		s3       = "storage:\n  driver: s3\n  s3:\n    bucket: b\n"
		secret   = "http:\n  secret: 0123456789abcdef0123456789abcdef\n"
		dynamodb = "metadata:\n  driver: dynamodb\n"
		postgres = "metadata:\n  driver: postgres\n  sql:\n    dsn: postgres://imagegate@db:5432/imagegate\n"
		mysql    = "metadata:\n  driver: mysql\n  sql:\n    dsn: imagegate@tcp(db:3306)/imagegate\n"
	)
	auth := func(signingKey string) string {
		return "auth:\n  enabled: true\n  htpasswd: " + users + "\n  signingkey: " + signingKey + "\n"
	}

	cases := []struct {
		name       string
		yaml       string
		env        []string
		replicated bool
		refused    map[string][]string // key → substrings of its message
	}{
		{name: "no http.secret", yaml: s3 + dynamodb, replicated: true, refused: map[string][]string{
			"http.secret": {"must be set when storage.driver is s3", "fails uploads whose requests reach another replica",
				"openssl rand -base64 48", "on every replica", "set singlenode: true"}}},
		{name: "bolt metadata", yaml: s3 + secret, replicated: true, refused: map[string][]string{
			"metadata.driver": {"each replica's disk", "children accepted by another", "use metadata.driver: dynamodb, postgres or mysql", "set singlenode: true"}}},
		{name: "signing key missing", yaml: s3 + secret + dynamodb + auth(missing), replicated: true, refused: map[string][]string{
			"auth.signingkey": {missing, "does not exist", "refuse the tokens the others issue", GenerateSigningKey,
				"mount the same file on every replica", "set singlenode: true"}}},
		{name: "all three at once", yaml: s3 + auth(missing), replicated: true, refused: map[string][]string{
			"http.secret": {"must be set"}, "metadata.driver": {"bolt"}, "auth.signingkey": {"does not exist"}}},
		{name: "singlenode false from the environment", yaml: s3 + "singlenode: true\n", env: []string{"IMAGEGATE_SINGLENODE=false"},
			replicated: true, refused: map[string][]string{"http.secret": {"must be set"}, "metadata.driver": {"bolt"}}},

		{name: "shared secret, dynamodb, auth off", yaml: s3 + secret + dynamodb, replicated: true},
		{name: "shared secret, dynamodb, key file present", yaml: s3 + secret + dynamodb + auth(key), replicated: true},
		{name: "shared secret, postgres", yaml: s3 + secret + postgres + auth(key), replicated: true},
		{name: "shared secret, mysql", yaml: s3 + secret + mysql, replicated: true},
		{name: "single node on s3: per-process state", yaml: "singlenode: true\n" + s3 + auth(missing)},
		{name: "single node from the environment", yaml: s3 + auth(missing), env: []string{"IMAGEGATE_SINGLENODE=true"}},
		{name: "filesystem storage is one node", yaml: auth(missing)},
		{name: "filesystem with dynamodb", yaml: dynamodb},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, c.env)
			if len(c.refused) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cfg.Replicated() != c.replicated {
					t.Fatalf("Replicated() = %v, want %v", cfg.Replicated(), c.replicated)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var keys []string
			for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "config: invalid: "), "\n") {
				k, msg, _ := strings.Cut(line, ": ")
				keys = append(keys, k)
				for _, want := range c.refused[k] {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: message %q does not say %q", k, msg, want)
					}
				}
			}
			var want []string
			for k := range c.refused {
				want = append(want, k)
			}
			slices.Sort(keys)
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Fatalf("refused keys %v, want %v (error: %v)", keys, want, err)
			}
		})
	}
}
