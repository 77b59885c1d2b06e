package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/imagegate/imagegate/fleet"
)

// Where the pool's DB pin lives in the fleet store.
const (
	pinSpace = "scanner-db"
	pinKey   = "pin"
)

// ErrDBBehind means a scanner's vulnerability DB is older than the one the
// pool is pinned to: it must not make verdicts until it has caught up.
var ErrDBBehind = errors.New("scan/remote: vulnerability DB older than the pool's")

// errPinned ends a pin update that has nothing to write.
var errPinned = errors.New("already pinned")

// Pin is the vulnerability DB a pool of scanners agrees on, kept in a
// fleet.Store all of them share. It only moves forward: the first scanner
// that loads a newer DB advances it, and from then on scanners still on an
// older DB refuse to scan (ErrDBBehind) until they have loaded it. So once
// a verdict was made with a DB, no later verdict is made with an older one.
type Pin struct {
	store fleet.Store
}

// NewPin returns the pin kept in s.
func NewPin(s fleet.Store) *Pin { return &Pin{store: s} }

// Current returns the pinned DB; ok is false when nothing is pinned yet.
func (p *Pin) Current(ctx context.Context) (id DBID, ok bool, err error) {
	it, err := p.store.Get(ctx, pinSpace, pinKey)
	if errors.Is(err, fleet.ErrNotFound) {
		return DBID{}, false, nil
	}
	if err != nil {
		return DBID{}, false, fmt.Errorf("scan/remote: reading the DB pin: %w", err)
	}
	if err := json.Unmarshal(it.Value, &id); err != nil {
		return DBID{}, false, fmt.Errorf("scan/remote: decoding the DB pin: %w", err)
	}
	return id, true, nil
}

// Check admits a scanner whose loaded DB is db. It pins db when nothing is
// pinned or the pin is older, and returns an error wrapping ErrDBBehind
// (naming both DBs) when the pin is newer. In the steady state it costs one
// read of the store.
func (p *Pin) Check(ctx context.Context, db DBID) error {
	value, err := json.Marshal(db)
	if err != nil {
		return fmt.Errorf("scan/remote: encoding the DB pin: %w", err)
	}
	_, err = fleet.Update(ctx, p.store, pinSpace, pinKey, 0, func(cur []byte, exists bool) ([]byte, error) {
		if !exists {
			return value, nil
		}
		var pinned DBID
		if err := json.Unmarshal(cur, &pinned); err != nil {
			return value, nil // unreadable: overwrite with a valid pin
		}
		switch {
		case pinned.Equal(db):
			return nil, errPinned
		case db.Before(pinned):
			return nil, fmt.Errorf("%w: this scanner has DB %s, the pool is pinned to %s", ErrDBBehind, db, pinned)
		}
		return value, nil
	})
	switch {
	case err == nil, errors.Is(err, errPinned):
		return nil
	case errors.Is(err, ErrDBBehind):
		return err
	}
	return fmt.Errorf("scan/remote: updating the DB pin: %w", err)
}
