package sqlstore

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Drivers are the accepted values of Config.Driver.
const (
	Postgres = "postgres"
	MySQL    = "mysql"
)

// TLS modes, as libpq names them: disable (plain TCP), require (encrypted,
// any certificate), verify-ca (certificate signed by CAFile or the system
// roots) and verify-full (verify-ca and the host name). "" leaves TLS to
// the DSN's own parameters (sslmode=…, tls=…).
var TLSModes = []string{"", "disable", "require", "verify-ca", "verify-full"}

// Config configures the connection pool to one PostgreSQL or MySQL
// (MariaDB) database.
type Config struct {
	// Driver is Postgres or MySQL.
	Driver string
	// DSN is the driver's connection string: a postgres:// URL or
	// key=value list for pgx, user:pass@tcp(host:port)/db for MySQL.
	DSN string
	// MaxOpenConns bounds the pool (0: 10); MaxIdleConns the idle
	// connections kept (0: 2, at most MaxOpenConns).
	MaxOpenConns, MaxIdleConns int
	// ConnMaxLifetime closes a connection that old (0: 30m). An IAM token
	// is checked only when a connection opens, so any value works with it.
	ConnMaxLifetime time.Duration
	// ConnectTimeout bounds dialing and the handshake of one connection
	// (0: 10s); QueryTimeout bounds each store call (0: 30s).
	ConnectTimeout, QueryTimeout time.Duration
	// TLS is the transport security of every connection.
	TLS TLS
	// IAMAuth makes every new connection authenticate with an RDS IAM
	// token instead of the DSN's password.
	IAMAuth IAMAuth
	// SkipMigrations makes Open only check that the schema is at this
	// build's version, for a database user without DDL rights: the schema
	// is then migrated by `imagegate metadata migrate` (Migrate), run
	// with a user that has them.
	SkipMigrations bool
	// Retention, when positive, hides records that long after they were
	// received and deletes them in the background (retention.go); 0
	// keeps them forever. At least one hour.
	Retention time.Duration
}

// TLS configures transport security.
type TLS struct {
	// Mode is one of TLSModes.
	Mode string
	// CAFile is a PEM bundle of the CAs that sign the server's
	// certificate (RDS: the region's bundle); empty: the system roots.
	CAFile string
}

// IAMAuth configures RDS IAM database authentication: a token built with
// the AWS SDK (default credential chain) before each new connection.
type IAMAuth struct {
	Enabled bool
	// Region is the database's AWS region (required when Enabled).
	Region string
	// Endpoint is the host:port the token is signed for; empty: the DSN's.
	Endpoint string
	// User is the database user; empty: the DSN's.
	User string
}

// Defaults of Config's zero values.
const (
	defaultMaxOpen         = 10
	defaultMaxIdle         = 2
	defaultConnMaxLifetime = 30 * time.Minute
	defaultConnectTimeout  = 10 * time.Second
	defaultQueryTimeout    = 30 * time.Second
	maxPool                = 1000
)

// withDefaults fills in c's zero values.
func (c Config) withDefaults() Config {
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = defaultMaxOpen
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = min(defaultMaxIdle, c.MaxOpenConns)
	}
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = defaultConnMaxLifetime
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = defaultQueryTimeout
	}
	return c
}

// Validate reports everything wrong with c, each problem naming its
// field as the configuration file spells it (under metadata.sql). It
// never prints the DSN, which may hold a password.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Driver != Postgres && c.Driver != MySQL {
		bad("driver %q: want %s or %s", c.Driver, Postgres, MySQL)
	}
	if strings.TrimSpace(c.DSN) == "" {
		bad("dsn: must be set (a postgres:// URL, or user:password@tcp(host:3306)/db for mysql)")
	}
	if c.MaxOpenConns < 0 || c.MaxOpenConns > maxPool {
		bad("maxopenconns %d: want 0 (default 10) to %d", c.MaxOpenConns, maxPool)
	}
	if c.MaxIdleConns < 0 || (c.MaxOpenConns > 0 && c.MaxIdleConns > c.MaxOpenConns) {
		bad("maxidleconns %d: want 0 (default 2) to maxopenconns", c.MaxIdleConns)
	}
	for name, d := range map[string]time.Duration{"connmaxlifetime": c.ConnMaxLifetime, "connecttimeout": c.ConnectTimeout, "querytimeout": c.QueryTimeout} {
		if d < 0 || d > 24*time.Hour {
			bad("%s %v: want 0 (default) to 24h", name, d)
		}
	}
	if c.Retention < 0 || (c.Retention > 0 && c.Retention < time.Hour) {
		bad("retention %v: want 0 (keep forever) or at least 1h", c.Retention)
	}
	if !slices.Contains(TLSModes, c.TLS.Mode) {
		bad("tls.mode %q: want disable, require, verify-ca or verify-full (or empty: as the DSN says)", c.TLS.Mode)
	}
	if c.TLS.CAFile != "" {
		if c.TLS.Mode != "verify-ca" && c.TLS.Mode != "verify-full" {
			bad("tls.cafile: only used with tls.mode verify-ca or verify-full, got mode %q", c.TLS.Mode)
		}
		if _, err := os.Stat(c.TLS.CAFile); err != nil {
			bad("tls.cafile: cannot read %q: %v", c.TLS.CAFile, errors.Unwrap(err))
		}
	}
	if a := c.IAMAuth; a.Enabled {
		if a.Region == "" {
			bad("iamauth.region: must be set when iamauth.enabled (the database's AWS region, e.g. eu-west-1)")
		}
		if a.Endpoint != "" {
			if _, port, err := net.SplitHostPort(a.Endpoint); err != nil || port == "" {
				bad("iamauth.endpoint %q: want host:port, e.g. mydb.abc123.eu-west-1.rds.amazonaws.com:5432", a.Endpoint)
			}
		}
		if c.TLS.Mode == "" || c.TLS.Mode == "disable" {
			bad("tls.mode %q: IAM authentication sends its token as the password, so it needs tls.mode require, verify-ca or verify-full", c.TLS.Mode)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metadata/sqlstore: config: %w", err)
	}
	return nil
}
