package validate

import (
	"context"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"golang.org/x/sync/semaphore"
)

// DefaultConfigBudget is the image config bytes a Validator holds at
// once when Options.ConfigBudget is zero: eight configs of the largest
// size accepted (maxConfigBytes), or thousands of ordinary ones (a few
// KiB each).
const DefaultConfigBudget = 8 * maxConfigBytes

// maxConfigWait bounds how long a manifest PUT waits for room in the
// config budget before it is asked to retry (429 TOOMANYREQUESTS).
const maxConfigWait = 30 * time.Second

// configBudget bounds the bytes of image configs held at once across a
// Validator's concurrent calls: each config is read only once its size
// fits, and is counted until its check ends or, when kept for a scanner,
// until its Result is released.
type configBudget struct {
	sem  *semaphore.Weighted
	wait time.Duration
}

func newConfigBudget(bytes int64) (configBudget, error) {
	if bytes == 0 {
		bytes = DefaultConfigBudget
	}
	if bytes < maxConfigBytes {
		return configBudget{}, fmt.Errorf("validate: the config budget of %d bytes is less than one config of the largest size accepted (%d)", bytes, maxConfigBytes)
	}
	return configBudget{sem: semaphore.NewWeighted(bytes), wait: maxConfigWait}, nil
}

// hold waits, at most b.wait and while ctx lasts, until n more bytes fit
// in the budget, and returns the function that gives them back. A wait
// that ends on b.wait is a 429 TOOMANYREQUESTS refusal (the client
// retries); one that ends with ctx is ctx's error.
func (b configBudget) hold(ctx context.Context, n int64) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("validate: waiting to read the image config: %w", ctx.Err())
		}
		return nil, errcode.ErrorCodeTooManyRequests.WithMessage(fmt.Sprintf(
			"the registry is checking too many large image configs at once; this one (%d bytes) waited %s: push again shortly", n, b.wait)).
			WithDetail(map[string]any{"config_bytes": n})
	}
	return func() { b.sem.Release(n) }, nil
}
