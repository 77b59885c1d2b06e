package pulls

import (
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// TestCoverage: a missing record means "not pulled since tracking began"
// only while tracking is younger than the records' expiry; after that it
// means "not pulled since now minus the expiry" (an older pull's record
// expired). Before the first flush there is no coverage.
func TestCoverage(t *testing.T) {
	store := fleet.NewMemory(0)
	began := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := &clock{}
	rd := Reader{Store: store, Expiry: 90 * 24 * time.Hour, Now: clk.now}
	if _, ok, err := rd.Coverage(t.Context()); ok || err != nil {
		t.Fatalf("coverage before tracking began: %v %v", ok, err)
	}
	if err := markSince(t.Context(), store, began); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now         time.Time
		expiry      time.Duration
		from        time.Time
		wantExpired bool
	}{
		{began.Add(30 * 24 * time.Hour), 90 * 24 * time.Hour, began, false},
		{began.Add(90 * 24 * time.Hour), 90 * 24 * time.Hour, began, false},
		{began.Add(200 * 24 * time.Hour), 90 * 24 * time.Hour, began.Add(110 * 24 * time.Hour), true},
		{began.Add(200 * 24 * time.Hour), 0, began, false}, // records that never expire
	} {
		clk.set(c.now)
		rd.Expiry = c.expiry
		cov, ok, err := rd.Coverage(t.Context())
		if !ok || err != nil || !cov.TrackedSince.Equal(began) || !cov.From.Equal(c.from) || cov.Expired() != c.wantExpired {
			t.Errorf("coverage at %v (expiry %v): %+v %v %v; want from %v, expired %v", c.now, c.expiry, cov, ok, err, c.from, c.wantExpired)
		}
	}
}
