// Package sqlstore is the metadata store on PostgreSQL or MySQL (MariaDB),
// for deployments whose database is one of those (RDS, on premises): the
// same guarantees as metadata/dynamodb, one table, plain SQL.
//
// One row per record in imagegate_records (schema.go): the indexed
// columns (id, repository, user, digest, pending), the columns Finish
// updates (status, reason, committed_at) and the body, the record's JSON
// at its first Put (zstd-compressed when large) with its SHA-256. The
// indexes serve every query of List and Pending as a range scan in id
// order (docs/metadata-sql.md shows their plans). The same database holds
// the replicas' shared state (fleet/sqlstore) and the applied schema
// versions (migrate.go).
//
// Every statement is a constant with placeholders: no input ever reaches
// SQL as text.
package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// Store is a metadata.Store on one database. It is safe for concurrent
// use, by many processes too.
type Store struct {
	db *DB
	d  *Dialect
	// retention hides and purges records that old (retention.go); 0
	// keeps them.
	retention time.Duration
	// now is the clock of retention.
	now        func() time.Time
	stopPurger context.CancelFunc
	purgerDone chan struct{}
	// ownsDB: Close closes the pool (New), or leaves it to its owner (NewOn).
	ownsDB bool
}

// New opens c's database (Open: pool and migrations) and returns the
// Store on it, which owns the pool.
func New(ctx context.Context, c Config) (*Store, error) {
	db, err := Open(ctx, c)
	if err != nil {
		return nil, err
	}
	s := NewOn(db, c.Retention)
	s.ownsDB = true
	return s, nil
}

// NewOn returns the Store on db, an open pool its caller keeps and closes
// after the Store (the fleet store's, so that a replica holds one pool),
// with retention as Config.Retention.
func NewOn(db *DB, retention time.Duration) *Store {
	s := &Store{db: db, d: db.dialect, retention: retention, now: time.Now}
	if s.retention > 0 {
		s.startPurger()
	}
	return s
}

// Ping implements metadata.Store: one round trip to the database, whose
// schema is at least the one this build reads (a newer one, migrated by a
// newer replica during a rolling upgrade, still serves this one: every
// migration keeps the previous version's statements working).
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/sqlstore: ping: %w", err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	var version int
	err := s.db.pool.QueryRowContext(qctx, "SELECT COALESCE(MAX(version), 0) FROM "+tableVersion).Scan(&version)
	if err != nil {
		return s.fail(ctx, "ping", "", err)
	}
	if version < s.d.LatestVersion() {
		return fmt.Errorf("metadata/sqlstore: ping: %w: schema version %d, this build reads %d", metadata.ErrUnavailable, version, s.d.LatestVersion())
	}
	return nil
}

// DB is the store's pool, for its statistics (sql.DBStats).
func (s *Store) DB() *DB { return s.db }

// Close implements metadata.Store: it stops the purger and closes the
// pool when the Store owns it (New).
func (s *Store) Close() error {
	if s.stopPurger != nil {
		s.stopPurger()
		<-s.purgerDone
	}
	if !s.ownsDB {
		return nil
	}
	return s.db.Close()
}

var _ metadata.Store = (*Store)(nil)
