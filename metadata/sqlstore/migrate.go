package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// Migration is what Migrate did: the schema version found and the one
// left (equal when there was nothing to do).
type Migration struct {
	From, To int
}

// lockPoll is how long one GET_LOCK waits in MySQL before Migrate checks
// its context again.
const lockPoll = time.Second

// migrate brings the schema to the dialect's latest version, holding the
// database's migration lock so that replicas starting at once apply each
// version exactly once (the others wait, then find nothing to do). The
// lock is PostgreSQL's session advisory lock or MySQL's GET_LOCK, keyed
// by the schema (database) name: two deployments in one server do not
// wait for each other. A schema newer than this build knows is refused:
// a newer imagegate migrated it, and this one would misread it.
func migrate(ctx context.Context, db *sql.DB, d *Dialect) (Migration, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return Migration{}, fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close()
	if err := d.lock(ctx, conn); err != nil {
		return Migration{}, fmt.Errorf("taking the migration lock: %w", err)
	}
	defer d.unlock(conn)

	if _, err := conn.ExecContext(ctx, d.versionTable()); err != nil {
		return Migration{}, fmt.Errorf("creating %s: %w", tableVersion, err)
	}
	var current sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version) FROM "+tableVersion).Scan(&current); err != nil {
		return Migration{}, fmt.Errorf("reading the schema version: %w", err)
	}
	m := Migration{From: int(current.Int64), To: int(current.Int64)}
	if latest := d.LatestVersion(); m.From > latest {
		return m, tooNew(m.From, latest)
	}
	for _, step := range d.migrations {
		if step.version <= m.To {
			continue
		}
		if err := d.apply(ctx, conn, step); err != nil {
			return m, fmt.Errorf("migrating to schema version %d: %w", step.version, err)
		}
		m.To = step.version
	}
	return m, nil
}

// checkVersion returns nil when the schema is at d's latest version, and
// says what to do otherwise.
func checkVersion(ctx context.Context, db *sql.DB, d *Dialect) error {
	var current sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM "+tableVersion).Scan(&current)
	latest := d.LatestVersion()
	switch {
	case err != nil:
		return fmt.Errorf("%w: reading the schema version (%v): run `imagegate metadata migrate` first, "+
			"or leave migrations to serve", ErrSchemaTooOld, err)
	case int(current.Int64) < latest:
		return fmt.Errorf("%w: the database schema is at version %d, this imagegate needs %d: run `imagegate metadata migrate` first",
			ErrSchemaTooOld, current.Int64, latest)
	case int(current.Int64) > latest:
		return tooNew(int(current.Int64), latest)
	}
	return nil
}

// tooNew is the error of a schema at version current, above latest.
func tooNew(current, latest int) error {
	return fmt.Errorf("%w: the database schema is at version %d, newer than this imagegate knows (%d): "+
		"a newer imagegate migrated it; run that version (or newer) against this database", ErrSchemaTooNew, current, latest)
}

// ErrSchemaTooOld: migrations are skipped and the database lacks some.
var ErrSchemaTooOld = errors.New("schema not migrated")

// ErrSchemaTooNew: the database's schema is of a version this build does
// not know.
var ErrSchemaTooNew = errors.New("schema too new")

// apply runs step's statements and records its version: in one
// transaction in PostgreSQL (all or nothing), one by one in MySQL (whose
// DDL commits implicitly; every statement is idempotent).
func (d *Dialect) apply(ctx context.Context, conn *sql.Conn, step migration) error {
	record := d.Rebind("INSERT INTO " + tableVersion + " (version) VALUES (?)")
	if d.name != Postgres {
		for _, stmt := range step.statements {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		_, err := conn.ExecContext(ctx, record, step.version)
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range step.statements {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, record, step.version); err != nil {
		return err
	}
	return tx.Commit()
}

// versionTable is the DDL of the table of applied versions.
func (d *Dialect) versionTable() string {
	if d.name == Postgres {
		return `CREATE TABLE IF NOT EXISTS ` + tableVersion + ` (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`
	}
	return `CREATE TABLE IF NOT EXISTS ` + tableVersion + ` (version INT NOT NULL PRIMARY KEY, ` +
		`applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB`
}

// Lock keys: PostgreSQL's two-int advisory key (a constant of imagegate
// and the schema's hash), MySQL's lock name (at most 64 characters).
const (
	pgLockClass   = 0x1a6e
	pgLockKey     = `hashtext(COALESCE(current_schema(), ''))`
	mysqlLockName = `CONCAT('imagegate-migrate-', LEFT(SHA1(COALESCE(DATABASE(), '')), 40))`
)

// lock takes the migration lock on conn's session, waiting for it as long
// as ctx allows.
func (d *Dialect) lock(ctx context.Context, conn *sql.Conn) error {
	if d.name == Postgres {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_lock(%d, %s)", pgLockClass, pgLockKey))
		return err
	}
	for {
		var got sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+mysqlLockName+", ?)", int(lockPoll/time.Second)).Scan(&got)
		switch {
		case err != nil:
			return err
		case got.Valid && got.Int64 == 1:
			return nil
		case !got.Valid:
			return errors.New("GET_LOCK failed")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// unlock releases the migration lock; when it cannot (the connection
// broke, say), it discards the connection, which ends the session and
// its lock, rather than return a locked session to the pool.
func (d *Dialect) unlock(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	query := "SELECT RELEASE_LOCK(" + mysqlLockName + ")"
	if d.name == Postgres {
		query = fmt.Sprintf("SELECT pg_advisory_unlock(%d, %s)", pgLockClass, pgLockKey)
	}
	if _, err := conn.ExecContext(ctx, query); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}
