package sqlstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	rdsauth "github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPool opens (without connecting) the bounded pool c describes: the
// driver's DSN with c's connect timeout, TLS and, with IAM, a hook that
// puts a fresh RDS token in the password of every new connection (tokens
// live 15 minutes; a pool outlives many).
func openPool(ctx context.Context, c Config) (*sql.DB, error) {
	var db *sql.DB
	var err error
	switch c.Driver {
	case Postgres:
		db, err = openPostgres(ctx, c)
	case MySQL:
		db, err = openMySQL(ctx, c)
	default:
		err = fmt.Errorf("unknown driver %q", c.Driver)
	}
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	db.SetConnMaxLifetime(c.ConnMaxLifetime)
	return db, nil
}

func openPostgres(ctx context.Context, c Config) (*sql.DB, error) {
	cc, err := pgx.ParseConfig(c.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err) // pgx masks the password
	}
	cc.ConnectTimeout = c.ConnectTimeout
	if c.TLS.Mode != "" {
		if err := postgresTLS(cc, c.TLS); err != nil {
			return nil, err
		}
	}
	var opts []stdlib.OptionOpenDB
	if c.IAMAuth.Enabled {
		token, err := newTokenSource(ctx, c.IAMAuth, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), cc.User)
		if err != nil {
			return nil, err
		}
		opts = append(opts, stdlib.OptionBeforeConnect(func(ctx context.Context, cc *pgx.ConnConfig) error {
			password, err := token(ctx)
			cc.Password = password
			return err
		}))
	}
	return stdlib.OpenDB(*cc, opts...), nil
}

// postgresTLS gives every host of cc (a DSN may list several) t's TLS,
// and drops the plain-text retries sslmode=prefer adds.
func postgresTLS(cc *pgx.ConnConfig, t TLS) error {
	var err error
	if cc.TLSConfig, err = tlsConfig(t, cc.Host); err != nil {
		return err
	}
	seen := map[string]bool{net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))): true}
	var hosts []*pgconn.FallbackConfig
	for _, fb := range cc.Fallbacks {
		addr := net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port)))
		if seen[addr] {
			continue
		}
		seen[addr] = true
		if fb.TLSConfig, err = tlsConfig(t, fb.Host); err != nil {
			return err
		}
		hosts = append(hosts, fb)
	}
	cc.Fallbacks = hosts
	return nil
}

func openMySQL(ctx context.Context, c Config) (*sql.DB, error) {
	routeDriverLog()
	mc, err := gomysql.ParseDSN(c.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	if mc.DBName == "" {
		return nil, errors.New("dsn: names no database: end it with /DATABASE, e.g. imagegate@tcp(db:3306)/imagegate")
	}
	mc.Timeout = c.ConnectTimeout
	if c.TLS.Mode != "" {
		host, _, _ := net.SplitHostPort(mc.Addr)
		if mc.TLS, err = tlsConfig(c.TLS, host); err != nil {
			return nil, err
		}
		mc.TLSConfig = ""
	}
	if c.IAMAuth.Enabled {
		token, err := newTokenSource(ctx, c.IAMAuth, mc.Addr, mc.User)
		if err != nil {
			return nil, err
		}
		mc.AllowCleartextPasswords = true // RDS's IAM plugin; the TLS check above guards it
		err = mc.Apply(gomysql.BeforeConnect(func(ctx context.Context, mc *gomysql.Config) error {
			password, err := token(ctx)
			mc.Passwd = password
			return err
		}))
		if err != nil {
			return nil, err
		}
	}
	connector, err := gomysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	return sql.OpenDB(connector), nil
}

// tlsConfig is the client TLS of mode for a server named host.
func tlsConfig(t TLS, host string) (*tls.Config, error) {
	if t.Mode == "disable" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	var roots *x509.CertPool
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cafile: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.cafile %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = roots
	}
	switch t.Mode {
	case "require":
		cfg.InsecureSkipVerify = true // encrypted, unauthenticated: libpq's sslmode=require
	case "verify-ca":
		// The chain must verify, whatever name the certificate holds.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg, nil
}

// newTokenSource is tokenSource; tests count its tokens.
var newTokenSource = tokenSource

// tokenSource returns the function that builds an RDS IAM token for user
// at endpoint (a.Endpoint and a.User override the DSN's), signed with the
// default AWS credential chain (cached and refreshed by the SDK).
func tokenSource(ctx context.Context, a IAMAuth, endpoint, user string) (func(context.Context) (string, error), error) {
	if a.Endpoint != "" {
		endpoint = a.Endpoint
	}
	if a.User != "" {
		user = a.User
	}
	if user == "" {
		return nil, errors.New("iamauth: no database user (set iamauth.user or put one in the dsn)")
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(a.Region))
	if err != nil {
		return nil, fmt.Errorf("iamauth: loading AWS credentials: %w", err)
	}
	creds := aws.NewCredentialsCache(awsCfg.Credentials)
	return func(ctx context.Context) (string, error) {
		token, err := rdsauth.BuildAuthToken(ctx, endpoint, a.Region, user, creds)
		if err != nil {
			return "", fmt.Errorf("iamauth: building the RDS token for %s at %s: %w", user, endpoint, err)
		}
		return token, nil
	}, nil
}
