package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// Put implements fleet.Store. With expect 0 it first replaces an expired
// row (UPDATE … WHERE expired), else inserts a row that does nothing when
// a live one exists (ErrConflict); with a version, one UPDATE … WHERE
// version = expect AND live. Each is one statement, atomic on its own.
func (s *Store) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	if err := fleet.CheckArgs(space, key, value); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fleet/sqlstore: put %s/%s: %w", space, key, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	now := s.now()
	var expires int64
	if ttl > 0 {
		// Rounded up to the millisecond: never live for less than ttl.
		expires = now.Add(ttl + time.Millisecond - 1).UnixMilli()
	}
	if value == nil {
		value = []byte{}
	}
	version := newVersion(expect)
	d, pool := s.db.Dialect(), s.db.SQL()
	var n int64
	var err error
	if expect == 0 {
		n, err = affected(pool.ExecContext(qctx, d.Rebind("UPDATE imagegate_fleet SET value = ?, version = ?, expires_ms = ?"+
			" WHERE space = ? AND item_key = ? AND expires_ms > 0 AND expires_ms <= ?"),
			value, version, expires, space, key, now.UnixMilli()))
		if err == nil && n == 0 {
			n, err = affected(pool.ExecContext(qctx, d.InsertIgnore("imagegate_fleet", "space", "space", "item_key", "value", "version", "expires_ms"),
				space, key, value, version, expires))
		}
	} else {
		n, err = affected(pool.ExecContext(qctx, d.Rebind("UPDATE imagegate_fleet SET value = ?, version = ?, expires_ms = ?"+
			" WHERE space = ? AND item_key = ? AND version = ? AND (expires_ms = 0 OR expires_ms > ?)"),
			value, version, expires, space, key, expect, now.UnixMilli()))
	}
	if err != nil {
		return 0, fail(ctx, "put", space, key, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("fleet/sqlstore: put %s/%s: %w", space, key, fleet.ErrConflict)
	}
	s.maybePurge(now)
	return version, nil
}

// Delete implements fleet.Store: one DELETE of the row when it is of
// version expect or expired; when none was deleted, a live row of another
// version is ErrConflict and no row is success.
func (s *Store) Delete(ctx context.Context, space, key string, expect int64) error {
	if err := fleet.CheckArgs(space, key, nil); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fleet/sqlstore: delete %s/%s: %w", space, key, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	now := s.now()
	d, pool := s.db.Dialect(), s.db.SQL()
	n, err := affected(pool.ExecContext(qctx, d.Rebind("DELETE FROM imagegate_fleet WHERE space = ? AND item_key = ?"+
		" AND (version = ? OR (expires_ms > 0 AND expires_ms <= ?))"), space, key, expect, now.UnixMilli()))
	if err != nil || n > 0 {
		if err != nil {
			return fail(ctx, "delete", space, key, err)
		}
		return nil
	}
	var expires int64
	err = pool.QueryRowContext(qctx, d.Rebind("SELECT expires_ms FROM imagegate_fleet WHERE space = ? AND item_key = ?"), space, key).Scan(&expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fail(ctx, "delete", space, key, err)
	case live(expires, now):
		return fmt.Errorf("fleet/sqlstore: delete %s/%s: %w", space, key, fleet.ErrConflict)
	}
	return nil // expired since the DELETE: absent
}

// affected is the number of rows res changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// newVersion returns a random version, nonzero and other than prev: an
// item expired and written anew never repeats the version of the one it
// replaces, so a holder of the old version cannot write over the new.
func newVersion(prev int64) int64 {
	for {
		if v := rand.Int64(); v != 0 && v != prev {
			return v
		}
	}
}
