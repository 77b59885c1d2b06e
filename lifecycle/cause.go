package lifecycle

import "context"

type causeKey struct{}

// WithCause marks ctx's deletions as done for cause (retention names its
// rule and figures): the guard records cause as the deletion record's
// reason, so a deletion no client asked for says why it happened.
func WithCause(ctx context.Context, cause string) context.Context {
	return context.WithValue(ctx, causeKey{}, cause)
}

// Cause is the cause ctx carries, "" when none.
func Cause(ctx context.Context) string {
	s, _ := ctx.Value(causeKey{}).(string)
	return s
}
