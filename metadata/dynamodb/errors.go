package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/smithy-go"

	"github.com/imagegate/imagegate/metadata"
)

// fail turns an error of operation op on id into the store's contract:
//   - once ctx is done, its error (context.Canceled or DeadlineExceeded),
//     whatever the SDK made of it;
//   - the metadata sentinels unchanged;
//   - DynamoDB's ValidationException (a key or item DynamoDB refuses) as
//     metadata.ErrInvalid;
//   - anything else (network, throttling after retries, missing table,
//     access denied) as metadata.ErrUnavailable.
func (s *Store) fail(ctx context.Context, op, id string, err error) error {
	prefix := "metadata/dynamodb: " + op
	if id != "" {
		prefix += " " + id
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%s: %w", prefix, errors.Join(ctxErr, err))
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, metadata.ErrNotFound), errors.Is(err, metadata.ErrConflict),
		errors.Is(err, metadata.ErrInvalid), errors.Is(err, metadata.ErrUnavailable):
		return fmt.Errorf("%s: %w", prefix, err)
	}
	if apiErr, ok := errors.AsType[smithy.APIError](err); ok && apiErr.ErrorCode() == "ValidationException" {
		return fmt.Errorf("%s: %w", prefix, errors.Join(metadata.ErrInvalid, err))
	}
	return fmt.Errorf("%s: %w", prefix, errors.Join(metadata.ErrUnavailable, err))
}

// sleep waits d or until ctx is done, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
