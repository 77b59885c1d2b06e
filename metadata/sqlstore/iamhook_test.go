package sqlstore_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// TestIAMHookPerConnection: with iamauth, the password of every new
// connection comes from the token source, asked once per connection (so
// tokens, valid 15 minutes, are fresh for each), and replaces the DSN's:
// against the real server, a DSN with a wrong password connects with the
// token source's right one.
func TestIAMHookPerConnection(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		cfg := sqltest.Config(t, driver)
		right := withPassword(t, &cfg, "wrong-password")
		var tokens atomic.Int64
		sqlstore.SetTokenSource(t, func(context.Context) (string, error) {
			tokens.Add(1)
			return right, nil
		})
		// The test servers speak no TLS: the pool is opened past Validate's
		// TLS requirement, which TestConfigValidate covers.
		cfg.IAMAuth = sqlstore.IAMAuth{Enabled: true, Region: "eu-west-1"}
		cfg.TLS.Mode = ""
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		db, err := sqlstore.OpenPoolForTest(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxIdleConns(0) // every Ping opens a new connection
		for i := range 3 {
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("ping %d with the token source's password: %v", i, err)
			}
		}
		if n := tokens.Load(); n != 3 {
			t.Fatalf("%d tokens for 3 connections", n)
		}
	})
}

// withPassword sets the DSN's password to password and returns the one it
// had.
func withPassword(t *testing.T, cfg *sqlstore.Config, password string) string {
	t.Helper()
	if cfg.Driver == sqlstore.MySQL {
		c, err := gomysql.ParseDSN(cfg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		old := c.Passwd
		c.Passwd = password
		cfg.DSN = c.FormatDSN()
		return old
	}
	u, err := url.Parse(cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := u.User.Password()
	u.User = url.UserPassword(u.User.Username(), password)
	cfg.DSN = u.String()
	return old
}
