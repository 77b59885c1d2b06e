package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// Get implements fleet.Store: one SELECT by primary key; an item past its
// expiry is fleet.ErrNotFound even before the purge deletes it.
func (s *Store) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	if err := fleet.CheckArgs(space, key, nil); err != nil {
		return fleet.Item{}, err
	}
	if err := ctx.Err(); err != nil {
		return fleet.Item{}, fmt.Errorf("fleet/sqlstore: get %s/%s: %w", space, key, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	d := s.db.Dialect()
	it := fleet.Item{Key: key}
	var expires int64
	err := s.db.SQL().QueryRowContext(qctx, d.Rebind("SELECT value, version, expires_ms FROM imagegate_fleet WHERE space = ? AND item_key = ?"),
		space, key).Scan(&it.Value, &it.Version, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fleet.Item{}, fmt.Errorf("fleet/sqlstore: get %s/%s: %w", space, key, fleet.ErrNotFound)
	case err != nil:
		return fleet.Item{}, fail(ctx, "get", space, key, err)
	case !live(expires, s.now()):
		return fleet.Item{}, fmt.Errorf("fleet/sqlstore: get %s/%s: %w (expired)", space, key, fleet.ErrNotFound)
	}
	it.Expires = expiry(expires)
	if it.Value == nil {
		it.Value = []byte{}
	}
	return it, nil
}

// List implements fleet.Store: one SELECT of the space's live rows above
// after, in key order (byte order: the columns are "C"-collated text or
// VARBINARY), at most limit of them.
func (s *Store) List(ctx context.Context, space, after string, limit int) ([]fleet.Item, error) {
	if err := fleet.CheckList(space, after); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fleet/sqlstore: list %s: %w", space, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	d := s.db.Dialect()
	rows, err := s.db.SQL().QueryContext(qctx, d.Rebind("SELECT item_key, value, version, expires_ms FROM imagegate_fleet"+
		" WHERE space = ? AND item_key > ? AND (expires_ms = 0 OR expires_ms > ?) ORDER BY item_key LIMIT ?"),
		space, after, s.now().UnixMilli(), fleet.ListLimit(limit))
	if err != nil {
		return nil, fail(ctx, "list", space, after, err)
	}
	defer rows.Close()
	var items []fleet.Item
	for rows.Next() {
		var it fleet.Item
		var key []byte
		var expires int64
		if err := rows.Scan(&key, &it.Value, &it.Version, &expires); err != nil {
			return nil, fail(ctx, "list", space, after, err)
		}
		it.Key, it.Expires = string(key), expiry(expires)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, "list", space, after, err)
	}
	return items, nil
}

// live reports whether an item of expiry expiresMS (0: never) is live at now.
func live(expiresMS int64, now time.Time) bool {
	return expiresMS == 0 || expiresMS > now.UnixMilli()
}

// expiry is the Item.Expires of expiresMS.
func expiry(expiresMS int64) time.Time {
	if expiresMS == 0 {
		return time.Time{}
	}
	return time.UnixMilli(expiresMS)
}
