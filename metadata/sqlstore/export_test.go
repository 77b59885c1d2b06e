package sqlstore

import "context"

// SetTokenSource makes IAM authentication take its passwords from next
// (not the AWS SDK) until the test ends.
func SetTokenSource(t interface{ Cleanup(func()) }, next func(context.Context) (string, error)) {
	old := newTokenSource
	newTokenSource = func(context.Context, IAMAuth, string, string) (func(context.Context) (string, error), error) {
		return next, nil
	}
	t.Cleanup(func() { newTokenSource = old })
}

// OpenPoolForTest opens c's pool as Open does, without validating c or
// migrating.
func OpenPoolForTest(ctx context.Context, c Config) (interface {
	PingContext(context.Context) error
	SetMaxIdleConns(int)
	Close() error
}, error) {
	return openPool(ctx, c.withDefaults())
}
