package metadata

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// maxCursorBytes bounds a cursor's decoded size; real ones are far smaller.
const maxCursorBytes = 2048

// EncodeCursor wraps a store's position as an opaque, URL-safe cursor.
func EncodeCursor(position []byte) string {
	return base64.RawURLEncoding.EncodeToString(position)
}

// DecodeCursor unwraps a cursor made by EncodeCursor; anything else is
// ErrInvalid.
func DecodeCursor(cursor string) ([]byte, error) {
	if len(cursor) > base64.RawURLEncoding.EncodedLen(maxCursorBytes) {
		return nil, fmt.Errorf("%w: cursor too long", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 {
		return nil, errors.Join(ErrInvalid, fmt.Errorf("malformed cursor"))
	}
	return b, nil
}

// DecodeIDCursor unwraps a cursor that holds a record id, as the stores
// make them (EncodeCursor of the id of a page's last record): "" for no
// cursor, ErrInvalid when it is malformed or holds no record id (a UUID in
// canonical form).
func DecodeIDCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := DecodeCursor(cursor)
	if err != nil {
		return "", err
	}
	id := string(b)
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return "", fmt.Errorf("%w: cursor names no record", ErrInvalid)
	}
	return id, nil
}
