package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DB is an open pool to the database of the stores, its schema migrated:
// the metadata Store (this package) and the fleet store (fleet/sqlstore)
// each keep one.
type DB struct {
	pool         *sql.DB
	dialect      *Dialect
	queryTimeout time.Duration
}

// Open validates c, opens its pool and brings the schema to the latest
// version (migrate.go; with c.SkipMigrations it only checks the version),
// bounded by ctx and c.ConnectTimeout for the first connection. It fails
// when the database is unreachable, the schema is older (SkipMigrations)
// or newer than this build, or a migration fails.
func Open(ctx context.Context, c Config) (*DB, error) {
	db, _, err := open(ctx, c)
	return db, err
}

// Migrate is Open for `imagegate metadata migrate`: it reports the
// versions and closes the pool.
func Migrate(ctx context.Context, c Config) (Migration, error) {
	c.SkipMigrations = false
	db, m, err := open(ctx, c)
	if err != nil {
		return m, err
	}
	return m, db.Close()
}

func open(ctx context.Context, c Config) (*DB, Migration, error) {
	if err := c.Validate(); err != nil {
		return nil, Migration{}, err
	}
	c = c.withDefaults()
	pool, err := openPool(ctx, c)
	if err != nil {
		return nil, Migration{}, fmt.Errorf("metadata/sqlstore: %s: %w", c.Driver, err)
	}
	d := postgres
	if c.Driver == MySQL {
		d = mysql
	}
	mctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout+time.Minute)
	defer cancel()
	var m Migration
	if c.SkipMigrations {
		err = checkVersion(mctx, pool, d)
	} else {
		m, err = migrate(mctx, pool, d)
	}
	if err != nil {
		pool.Close()
		return nil, m, fmt.Errorf("metadata/sqlstore: %s: %w", c.Driver, err)
	}
	return &DB{pool: pool, dialect: d, queryTimeout: c.QueryTimeout}, m, nil
}

// SQL is the pool.
func (db *DB) SQL() *sql.DB { return db.pool }

// Dialect is the database's dialect.
func (db *DB) Dialect() *Dialect { return db.dialect }

// WithTimeout bounds ctx by the configured query timeout, for one call.
func (db *DB) WithTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.queryTimeout)
}

// Close closes the pool.
func (db *DB) Close() error { return db.pool.Close() }
