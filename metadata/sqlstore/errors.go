package sqlstore

import (
	"context"
	"errors"
	"fmt"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imagegate/imagegate/metadata"
)

// fail turns an error of operation op on id into the store's contract:
//   - once the caller's ctx is done, its error (context.Canceled or
//     DeadlineExceeded), whatever the driver made of it;
//   - the metadata sentinels unchanged;
//   - a value the database refuses (PostgreSQL's class 22, MySQL's data
//     errors) as metadata.ErrInvalid — encode's bounds make it rare;
//   - anything else (connection refused or lost, the query timeout,
//     a missing table, access denied) as metadata.ErrUnavailable.
func (s *Store) fail(ctx context.Context, op, id string, err error) error {
	prefix := "metadata/sqlstore: " + op
	if id != "" {
		prefix += " " + id
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		return fmt.Errorf("%s: %w", prefix, errors.Join(ctxErr, err))
	}
	switch {
	case errors.Is(err, metadata.ErrNotFound), errors.Is(err, metadata.ErrConflict),
		errors.Is(err, metadata.ErrInvalid), errors.Is(err, metadata.ErrUnavailable):
		return fmt.Errorf("%s: %w", prefix, err)
	case refusedValue(err):
		return fmt.Errorf("%s: %w", prefix, errors.Join(metadata.ErrInvalid, err))
	}
	return fmt.Errorf("%s: %w", prefix, errors.Join(metadata.ErrUnavailable, err))
}

// refusedValue reports whether err is the database refusing a value
// rather than failing.
func refusedValue(err error) bool {
	if pg, ok := errors.AsType[*pgconn.PgError](err); ok {
		return len(pg.Code) == 5 && pg.Code[:2] == "22"
	}
	if my, ok := errors.AsType[*gomysql.MySQLError](err); ok {
		switch my.Number {
		case 1264, 1366, 1406: // out of range, incorrect string value, data too long
			return true
		}
	}
	return false
}
