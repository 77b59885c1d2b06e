package config

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// SQLMetadata configures the PostgreSQL and MySQL (MariaDB) stores
// (metadata.driver postgres or mysql): one bounded connection pool per
// process, of at most maxopenconns connections, for the records and the
// replicas' shared state.
type SQLMetadata struct {
	// DSN is the driver's connection string: postgres://user:pass@host:5432/db
	// (or key=value) for postgres, user:pass@tcp(host:3306)/db for mysql.
	// It holds a password: prefer IMAGEGATE_METADATA_SQL_DSN to the file.
	DSN Secret `yaml:"dsn"`
	// MaxOpenConns bounds each pool; MaxIdleConns the idle connections kept.
	MaxOpenConns int `yaml:"maxopenconns"`
	MaxIdleConns int `yaml:"maxidleconns"`
	// ConnMaxLifetime closes connections that old.
	ConnMaxLifetime time.Duration `yaml:"connmaxlifetime"`
	// ConnectTimeout bounds opening one connection; QueryTimeout one store call.
	ConnectTimeout time.Duration `yaml:"connecttimeout"`
	QueryTimeout   time.Duration `yaml:"querytimeout"`
	TLS            SQLTLS        `yaml:"tls"`
	IAMAuth        SQLIAMAuth    `yaml:"iamauth"`
	// SkipMigrations makes serve (and scanner) only check the schema's
	// version at start instead of migrating it, for a database user
	// without DDL rights: `imagegate metadata migrate`, run with a user
	// that has them, migrates it. Off (the default), they migrate.
	SkipMigrations bool `yaml:"skipmigrations"`
	// Retention hides records this long after they were received and
	// deletes them in the background; 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
}

// SQLTLS is the transport security of the database connections.
type SQLTLS struct {
	// Mode is disable, require, verify-ca or verify-full; empty leaves it
	// to the DSN (sslmode=… for postgres, tls=… for mysql).
	Mode string `yaml:"mode"`
	// CAFile is the PEM bundle that signs the server's certificate (RDS:
	// the region's bundle); empty: the system roots.
	CAFile string `yaml:"cafile"`
}

// SQLIAMAuth turns on RDS IAM database authentication: each new
// connection presents a fresh token signed with the AWS default
// credential chain instead of the DSN's password.
type SQLIAMAuth struct {
	Enabled bool `yaml:"enabled"`
	// Region is the database's AWS region.
	Region string `yaml:"region"`
	// Endpoint is host:port the token is for; empty: the DSN's.
	Endpoint string `yaml:"endpoint"`
	// User is the database user; empty: the DSN's.
	User string `yaml:"user"`
}

// SQLTLSModes are the accepted values of metadata.sql.tls.mode.
var SQLTLSModes = []string{"disable", "require", "verify-ca", "verify-full"}

// validate reports the problems of s for driver (postgres or mysql).
func (s SQLMetadata) validate(driver string, bad func(key, format string, args ...any)) {
	if strings.TrimSpace(s.DSN.Reveal()) == "" {
		example := "postgres://imagegate@db.example.com:5432/imagegate"
		if driver == "mysql" {
			example = "imagegate@tcp(db.example.com:3306)/imagegate"
		}
		bad("metadata.sql.dsn", "must be set for the %s driver, e.g. %s (or in %s)", driver, example, EnvName("metadata.sql.dsn"))
	}
	if s.MaxOpenConns < 1 || s.MaxOpenConns > 1000 {
		bad("metadata.sql.maxopenconns", "must be between 1 and 1000, got %d", s.MaxOpenConns)
	}
	if s.MaxIdleConns < 0 || s.MaxIdleConns > s.MaxOpenConns {
		bad("metadata.sql.maxidleconns", "must be between 0 and maxopenconns (%d), got %d", s.MaxOpenConns, s.MaxIdleConns)
	}
	for key, d := range map[string]time.Duration{
		"metadata.sql.connmaxlifetime": s.ConnMaxLifetime,
		"metadata.sql.connecttimeout":  s.ConnectTimeout,
		"metadata.sql.querytimeout":    s.QueryTimeout,
	} {
		if d <= 0 || d > 24*time.Hour {
			bad(key, "must be a positive duration of at most 24h such as 30s, got %v", d)
		}
	}
	if s.Retention < 0 || (s.Retention > 0 && s.Retention < time.Hour) {
		bad("metadata.sql.retention", "must be 0 (keep forever) or at least 1h, got %v", s.Retention)
	}
	if s.TLS.Mode != "" && !slices.Contains(SQLTLSModes, s.TLS.Mode) {
		bad("metadata.sql.tls.mode", "must be one of %s (or empty: as the dsn says), got %q", strings.Join(SQLTLSModes, ", "), s.TLS.Mode)
	}
	if f := s.TLS.CAFile; f != "" {
		if s.TLS.Mode != "verify-ca" && s.TLS.Mode != "verify-full" {
			bad("metadata.sql.tls.cafile", "is only used with tls.mode verify-ca or verify-full, got mode %q", s.TLS.Mode)
		}
		if _, err := os.Stat(f); err != nil {
			bad("metadata.sql.tls.cafile", "cannot read %q: %v", f, errors.Unwrap(err))
		}
	}
	if a := s.IAMAuth; a.Enabled {
		if a.Region == "" {
			bad("metadata.sql.iamauth.region", "must be set when iamauth is enabled (the database's AWS region, e.g. eu-west-1)")
		}
		if a.Endpoint != "" {
			if _, port, err := net.SplitHostPort(a.Endpoint); err != nil || port == "" {
				bad("metadata.sql.iamauth.endpoint", "must be host:port such as mydb.abc123.eu-west-1.rds.amazonaws.com:5432, got %q", a.Endpoint)
			}
		}
		if s.TLS.Mode == "" || s.TLS.Mode == "disable" {
			bad("metadata.sql.tls.mode", "must be require, verify-ca or verify-full with iamauth (the token is sent as the password), got %q", s.TLS.Mode)
		}
	}
}
