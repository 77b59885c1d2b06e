package dynamodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/fleet"
)

// fail turns an error of operation op on key in space into the Store's
// contract: a failed condition wraps fleet.ErrConflict; once ctx is done,
// the error wraps ctx's error (context.Canceled or DeadlineExceeded),
// whatever the SDK made of it; anything else (network, throttling after
// the SDK's retries, a missing table, access denied) is wrapped with the
// operation.
func fail(ctx context.Context, op, space, key string, err error) error {
	prefix := fmt.Sprintf("fleet/dynamodb: %s %s/%s", op, space, key)
	if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		return fmt.Errorf("%s: %w", prefix, fleet.ErrConflict)
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%s: %w", prefix, errors.Join(ctxErr, err))
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
