// Package fleet is the state the replicas of one imagegate deployment
// share: small items in named spaces, each with an opaque version for
// compare-and-swap and an optional expiry. Leases, counters, locks and
// outboxes are built on it (lease.go, update.go); a Store is the one thing
// a backend implements.
//
// A single node uses Memory. Replicas use the backend of the metadata
// database they already share (fleet/dynamodb, fleet/sqlstore), so a
// deployment gains no new moving part.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// Store is the shared state. Implementations are safe for concurrent use
// by many processes; every method honours ctx.
type Store interface {
	// Get returns the live item under key in space, or an error wrapping
	// ErrNotFound when it is absent or expired.
	Get(ctx context.Context, space, key string) (Item, error)
	// Put writes value under key when the item's current version is
	// expect, where expect 0 means "absent or expired". It returns the new
	// version (never 0), or an error wrapping ErrConflict, changing
	// nothing, when the version differs. ttl > 0 makes the item expire
	// that long after the write; 0 keeps it until deleted.
	Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error)
	// Delete removes key when its version is expect (an error wrapping
	// ErrConflict otherwise). Deleting an absent or expired key is not an
	// error.
	Delete(ctx context.Context, space, key string, expect int64) error
	// List returns at most limit live items of space whose keys sort after
	// after (all keys when after is ""), in ascending byte order of keys;
	// limit below 1 or above MaxListLimit means MaxListLimit. A page ends
	// exactly where the next (after = its last key) begins; a page of
	// fewer than limit items is the last.
	List(ctx context.Context, space, after string, limit int) ([]Item, error)
}

// Item is one stored value.
type Item struct {
	Key     string
	Value   []byte
	Version int64
	// Expires is when the item stops being live; zero: never.
	Expires time.Time
}

var (
	// ErrNotFound: no live item under the key.
	ErrNotFound = errors.New("fleet: not found")
	// ErrConflict: the item's version is not the one expected.
	ErrConflict = errors.New("fleet: version conflict")
)

// Limits every Store enforces, so that any backend can hold what another
// accepts (DynamoDB items end at 400 KB). A key is 1 to MaxKeyBytes bytes
// of UTF-8 (DynamoDB stores strings as UTF-8 and refuses empty keys).
const (
	MaxValueBytes = 256 << 10
	MaxKeyBytes   = 512
	MaxListLimit  = 1000
)

// spaceName is the shape of a space: a short lower-case name.
var spaceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// CheckArgs validates the arguments of Get, Put and Delete (value nil for
// the last two); backends call it first and return its error unchanged.
func CheckArgs(space, key string, value []byte) error {
	if err := checkSpace(space); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("fleet: empty key in %s", space)
	}
	if err := checkKey(space, key); err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("fleet: value of %d bytes for %s/%s: limit %d", len(value), space, key, MaxValueBytes)
	}
	return nil
}

// CheckList validates the arguments of List: after is "" or a key;
// backends call it first and return its error unchanged.
func CheckList(space, after string) error {
	if err := checkSpace(space); err != nil {
		return err
	}
	return checkKey(space, after)
}

// ListLimit is the number of items List returns at most for limit.
func ListLimit(limit int) int {
	if limit < 1 || limit > MaxListLimit {
		return MaxListLimit
	}
	return limit
}

func checkSpace(space string) error {
	if !spaceName.MatchString(space) {
		return fmt.Errorf("fleet: space %q: want lower-case letters, digits and -", space)
	}
	return nil
}

func checkKey(space, key string) error {
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("fleet: key of %d bytes in %s: limit %d", len(key), space, MaxKeyBytes)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("fleet: key %q in %s: not UTF-8", key, space)
	}
	return nil
}
