package sqlstore

import (
	"strings"
	"testing"
	"time"
)

// TestConfigValidate: each bad field is named in the error, the DSN's
// text never is, and a good configuration passes.
func TestConfigValidate(t *testing.T) {
	good := Config{Driver: Postgres, DSN: "postgres://u:s3cret@db:5432/ig"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"driver", func(c *Config) { c.Driver = "sqlite" }, `driver "sqlite"`},
		{"dsn", func(c *Config) { c.DSN = " " }, "dsn: must be set"},
		{"pool", func(c *Config) { c.MaxOpenConns = -1 }, "maxopenconns -1"},
		{"idle above open", func(c *Config) { c.MaxOpenConns, c.MaxIdleConns = 4, 5 }, "maxidleconns 5"},
		{"timeout", func(c *Config) { c.QueryTimeout = -time.Second }, "querytimeout -1s"},
		{"tls mode", func(c *Config) { c.TLS.Mode = "prefer" }, `tls.mode "prefer"`},
		{"ca without verify", func(c *Config) { c.TLS = TLS{Mode: "require", CAFile: "/etc/hosts"} }, "tls.cafile: only used"},
		{"ca missing", func(c *Config) { c.TLS = TLS{Mode: "verify-full", CAFile: "/no/such/ca.pem"} }, `cannot read "/no/such/ca.pem"`},
		{"iam region", func(c *Config) { c.TLS.Mode = "require"; c.IAMAuth = IAMAuth{Enabled: true} }, "iamauth.region: must be set"},
		{"iam endpoint", func(c *Config) {
			c.TLS.Mode = "require"
			c.IAMAuth = IAMAuth{Enabled: true, Region: "eu-west-1", Endpoint: "db.example.com"}
		}, `iamauth.endpoint "db.example.com": want host:port`},
		{"iam without tls", func(c *Config) { c.IAMAuth = IAMAuth{Enabled: true, Region: "eu-west-1"} }, "needs tls.mode require"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error prints the DSN's password: %v", err)
			}
		})
	}
}

// TestRebind: PostgreSQL placeholders are numbered in order; MySQL keeps ?.
func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c > ? LIMIT ?"
	if got := postgres.Rebind(q); got != "SELECT a FROM t WHERE b = $1 AND c > $2 LIMIT $3" {
		t.Errorf("postgres: %s", got)
	}
	if got := mysql.Rebind(q); got != q {
		t.Errorf("mysql: %s", got)
	}
	if got := postgres.InsertIgnore("t", "k", "k", "v"); got != "INSERT INTO t (k, v) VALUES ($1, $2) ON CONFLICT DO NOTHING" {
		t.Errorf("postgres insert: %s", got)
	}
	if got := mysql.InsertIgnore("t", "k", "k", "v"); got != "INSERT INTO t (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE k = k" {
		t.Errorf("mysql insert: %s", got)
	}
}
