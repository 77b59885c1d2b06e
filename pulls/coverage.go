package pulls

import (
	"context"
	"time"
)

// Coverage is what the pull records can say of a manifest that has none,
// read at one time: it was not pulled since From. Tracking began at
// TrackedSince, and a record lives Expiry after its latest pull, so From
// is the later of TrackedSince and the read's time minus Expiry: a
// manifest last pulled before that had its record expire (it was pulled,
// just not since From).
type Coverage struct {
	TrackedSince time.Time
	From         time.Time
}

// Expired reports whether records may have expired since tracking began:
// a manifest without one was perhaps pulled before From, so "never
// pulled" would be wrong.
func (c Coverage) Expired() bool { return c.From.After(c.TrackedSince) }

// Coverage reads when tracking began and returns the coverage at
// rd.Now() (the wall clock when nil) for records that live rd.Expiry
// (0: forever); false when tracking has not begun (see Since).
func (rd Reader) Coverage(ctx context.Context) (Coverage, bool, error) {
	since, ok, err := rd.Since(ctx)
	if !ok || err != nil {
		return Coverage{}, ok, err
	}
	c := Coverage{TrackedSince: since.UTC(), From: since.UTC()}
	if rd.Expiry <= 0 {
		return c, true, nil
	}
	now := time.Now
	if rd.Now != nil {
		now = rd.Now
	}
	if kept := now().UTC().Add(-rd.Expiry); kept.After(c.From) {
		c.From = kept
	}
	return c, true, nil
}
