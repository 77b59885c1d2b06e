package metadata

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new record id: a UUIDv7, whose text sorts by creation time.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// IDFloor returns the smallest id a record received at or after t can have,
// for range queries on time-ordered ids.
func IDFloor(t time.Time) string {
	var u uuid.UUID
	ms := uint64(max(t.UnixMilli(), 0))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ms)
	copy(u[0:6], b[2:8])
	return u.String()
}

// IDTime returns the time encoded in a UUIDv7 id.
func IDTime(id string) (time.Time, error) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return time.Time{}, fmt.Errorf("%w: %q is not a UUIDv7", ErrInvalid, id)
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec), nil
}
