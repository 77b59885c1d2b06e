package scan

import (
	"fmt"
	"time"
)

// Status is a scanner's vulnerability DB state, for readiness checks and
// operators.
type Status struct {
	// Ready is true when a DB is loaded and scans can run.
	Ready bool
	// DBVersion and DBUpdatedAt describe the loaded DB (as in Report).
	DBVersion   string
	DBUpdatedAt time.Time
	// Error explains the last DB problem: why no DB is loaded, or why the
	// last update failed while an older DB is still in use. Empty when all
	// is well.
	Error string
}

// Err returns nil when s is ready, else an error wrapping ErrNoDB that
// carries s.Error. It suits a readiness check.
func (s Status) Err() error {
	if s.Ready {
		return nil
	}
	if s.Error == "" {
		return ErrNoDB
	}
	return fmt.Errorf("%w: %s", ErrNoDB, s.Error)
}
