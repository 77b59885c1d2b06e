// Package sqlstore is the fleet.Store of replicas whose metadata is in
// PostgreSQL or MySQL (metadata/sqlstore): fleet items live in the same
// database, in imagegate_fleet (created by the metadata store's
// migrations), so a deployment gains no moving part.
//
// Item under key in space: one row, primary key (space, item_key) in
// byte order. Every write is a single conditional statement on the
// version read, so replicas compare-and-swap: an UPDATE … WHERE version =
// expect, or an INSERT that does nothing over an existing row. Expiry is
// exact to this process's clock (expires_ms, 0 for never): reads hide an
// item from its expiry on and a write of version 0 replaces it, whatever
// the purge of expired rows (purge.go) has done yet. Replicas' clocks
// must agree to well within the shortest TTL they use, as with
// fleet/dynamodb.
package sqlstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/fleet"
	metasql "github.com/imagegate/imagegate/metadata/sqlstore"
)

// Store is a fleet.Store in the metadata database. It is safe for
// concurrent use by many processes.
type Store struct {
	db *metasql.DB
	// now is the clock of expiry.
	now func() time.Time
	// lastPurge is when this process last purged expired rows (unix ms).
	lastPurge atomic.Int64
}

// New opens the database c describes (metadata/sqlstore.Open: its own
// bounded pool, the schema migrated) and returns the Store on it.
func New(ctx context.Context, c metasql.Config) (*Store, error) {
	db, err := metasql.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, now: time.Now}, nil
}

// DB is the Store's pool, for its statistics (sql.DBStats).
func (s *Store) DB() *metasql.DB { return s.db }

// Close closes the Store's pool.
func (s *Store) Close() error { return s.db.Close() }

var _ fleet.Store = (*Store)(nil)
