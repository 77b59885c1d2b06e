package sqlstore

import (
	"context"
	"errors"
	"fmt"
)

// fail turns an error of operation op on key in space into the Store's
// contract: once ctx is done, the error wraps ctx's error
// (context.Canceled or DeadlineExceeded) whatever the driver made of it;
// anything else (connection refused or lost, the query timeout, access
// denied) is wrapped with the operation.
func fail(ctx context.Context, op, space, key string, err error) error {
	prefix := fmt.Sprintf("fleet/sqlstore: %s %s/%s", op, space, key)
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%s: %w", prefix, errors.Join(ctxErr, err))
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
