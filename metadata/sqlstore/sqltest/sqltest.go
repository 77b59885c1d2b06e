// Package sqltest gives the tests of the SQL stores a database of their
// own on the servers `make test` starts (scripts/postgres.sh,
// scripts/mariadb.sh): a new PostgreSQL schema or MySQL database per
// test, dropped when the test ends, so runs and parallel tests never
// collide.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/metadata/sqlstore"
)

// Environment variables naming the servers: a DSN whose user may create
// schemas (PostgreSQL) or databases (MySQL).
const (
	EnvPostgres = "IMAGEGATE_TEST_POSTGRES_DSN"
	EnvMySQL    = "IMAGEGATE_TEST_MYSQL_DSN"
)

// Drivers are the dialects the tests run against, in order.
var Drivers = []string{sqlstore.Postgres, sqlstore.MySQL}

// DSN returns the server DSN of driver from its environment variable, or
// skips the test (fails it under IMAGEGATE_TEST_REQUIRE_ALL=1).
func DSN(tb testing.TB, driver string) string {
	tb.Helper()
	if driver == sqlstore.Postgres {
		return liveserver.RequireEnv(tb, EnvPostgres, "a postgres:// DSN of PostgreSQL, see scripts/postgres.sh")
	}
	return liveserver.RequireEnv(tb, EnvMySQL, "a user:password@tcp(host:port)/ DSN of MariaDB or MySQL, see scripts/mariadb.sh")
}

// Config returns the store configuration of a new, empty schema (or
// database) of the test's own on driver's server, dropped at the test's
// end.
func Config(tb testing.TB, driver string) sqlstore.Config {
	tb.Helper()
	dsn := DSN(tb, driver)
	name := "ig_" + randomHex(8)
	admin := adminDB(tb, driver, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create, drop := `CREATE SCHEMA "`+name+`"`, `DROP SCHEMA "`+name+`" CASCADE`
	if driver == sqlstore.MySQL {
		create, drop = "CREATE DATABASE `"+name+"`", "DROP DATABASE `"+name+"`"
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
		tb.Fatalf("creating %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, drop); err != nil {
			tb.Errorf("dropping %s: %v", name, err)
		}
		admin.Close()
	})
	return sqlstore.Config{Driver: driver, DSN: withSchema(tb, driver, dsn, name), MaxOpenConns: 8, QueryTimeout: 20 * time.Second}
}

// adminDB opens a small pool on the server DSN itself.
func adminDB(tb testing.TB, driver, dsn string) *sql.DB {
	tb.Helper()
	name := "pgx"
	if driver == sqlstore.MySQL {
		name = "mysql"
	}
	db, err := sql.Open(name, dsn)
	if err != nil {
		tb.Fatalf("%s: %v", driver, err)
	}
	db.SetMaxOpenConns(2)
	return db
}

// withSchema returns dsn pointed at schema (PostgreSQL's search_path) or
// database name (MySQL).
func withSchema(tb testing.TB, driver, dsn, name string) string {
	tb.Helper()
	if driver == sqlstore.MySQL {
		c, err := gomysql.ParseDSN(dsn)
		if err != nil {
			tb.Fatalf("%s: %v", EnvMySQL, err)
		}
		c.DBName = name
		return c.FormatDSN()
	}
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + name
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Raw opens a plain pool on cfg's database (no migration), closed at the
// test's end, for tests that look under the stores.
func Raw(tb testing.TB, cfg sqlstore.Config) *sql.DB {
	tb.Helper()
	db := adminDB(tb, cfg.Driver, cfg.DSN)
	tb.Cleanup(func() { db.Close() })
	return db
}

// Addr is the host:port cfg's DSN connects to.
func Addr(tb testing.TB, cfg sqlstore.Config) string {
	tb.Helper()
	if cfg.Driver == sqlstore.MySQL {
		c, err := gomysql.ParseDSN(cfg.DSN)
		if err != nil {
			tb.Fatal(err)
		}
		return c.Addr
	}
	u, err := url.Parse(cfg.DSN)
	if err != nil || u.Host == "" {
		tb.Fatalf("%s: want a postgres:// URL to change its address", EnvPostgres)
	}
	return u.Host
}

// WithAddr returns cfg connecting to addr (host:port) instead.
func WithAddr(tb testing.TB, cfg sqlstore.Config, addr string) sqlstore.Config {
	tb.Helper()
	if cfg.Driver == sqlstore.MySQL {
		c, err := gomysql.ParseDSN(cfg.DSN)
		if err != nil {
			tb.Fatal(err)
		}
		c.Addr = addr
		cfg.DSN = c.FormatDSN()
		return cfg
	}
	u, err := url.Parse(cfg.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = addr
	cfg.DSN = u.String()
	return cfg
}
