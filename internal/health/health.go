// Package health defines readiness checks shared by the subsystems that
// report them (storage, metadata, scanner) and the server that serves them.
package health

import (
	"context"
	"errors"
)

// Check reports whether one dependency works. It returns nil when healthy,
// an error wrapped by Degraded when the server still serves but something
// needs attention, and any other error when the dependency is down. It must
// return within the deadline of ctx.
type Check func(ctx context.Context) error

// degraded marks an error that degrades readiness without failing it.
type degraded struct{ err error }

func (d degraded) Error() string { return d.err.Error() }
func (d degraded) Unwrap() error { return d.err }

// Degraded wraps err so that IsDegraded recognises it.
func Degraded(err error) error { return degraded{err} }

// IsDegraded reports whether err was made by Degraded.
func IsDegraded(err error) bool {
	var d degraded
	return errors.As(err, &d)
}
