package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/internal/health"
	"github.com/imagegate/imagegate/scan"
)

// scannerCheck reports the scanner's DB state. A missing DB, or one older
// than maxAge (0: no limit), degrades readiness rather than failing it:
// pulls still work, pushes follow their policy's onerror (no DB) or are
// judged against old data (a stale DB), and the load balancer must not
// take every replica out for a state they all share.
func scannerCheck(s scan.Scanner, maxAge time.Duration) health.Check {
	return func(ctx context.Context) error {
		st := s.Status(ctx)
		if err := st.Err(); err != nil {
			return health.Degraded(err)
		}
		if age, ok := st.Age(time.Now()); ok && maxAge > 0 && age > maxAge {
			return health.Degraded(fmt.Errorf("vulnerability DB %s is %s old (built %s), over scan.maxdbage %s: DB updates are failing",
				st.DBVersion, age.Round(time.Minute), st.DBUpdatedAt.UTC().Format(time.RFC3339), maxAge))
		}
		return nil
	}
}

// scannerDB is what /readyz says of the scanner's DB (public: no error texts).
type scannerDB struct {
	Loaded        bool       `json:"db_loaded"`
	Version       string     `json:"db_version,omitempty"`
	UpdatedAt     *time.Time `json:"db_updated_at,omitempty"`
	AgeSeconds    *int64     `json:"db_age_seconds,omitempty"`
	MaxAgeSeconds int64      `json:"db_max_age_seconds,omitempty"`
}

// scannerInfo describes the scanner's DB for /readyz.
func scannerInfo(s scan.Scanner, maxAge time.Duration) func(context.Context) any {
	return func(ctx context.Context) any {
		st := s.Status(ctx)
		out := scannerDB{Loaded: st.Ready, MaxAgeSeconds: int64(maxAge.Seconds())}
		if st.Ready {
			out.Version = st.DBVersion
		}
		if age, ok := st.Age(time.Now()); ok {
			at, secs := st.DBUpdatedAt.UTC(), int64(age.Seconds())
			out.UpdatedAt, out.AgeSeconds = &at, &secs
		}
		return out
	}
}
