package registry

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/pulls"
)

// WithPullClock makes pull tracking note pulls at now() instead of the
// wall clock (tests that age pulls).
func WithPullClock(now func() time.Time) Option {
	return func(o *options) { o.pullNow = now }
}

// newPulls is this replica's pull tracker (nil when lifecycle.pulls is
// off), with its metrics on reg.
func newPulls(c config.Pulls, shared fleet.Store, now func() time.Time, reg prometheus.Registerer, logger *slog.Logger) (*pulls.Tracker, error) {
	if !c.Enabled {
		return nil, nil
	}
	t := pulls.New(pulls.Options{Store: shared, MaxEntries: c.MaxEntries, Expiry: c.Expiry, Now: now, Logger: logger})
	counter := func(name, help string, f func(pulls.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "pulls", Name: name, Help: help},
			func() float64 { return float64(f(t.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("noted_total", "Manifest pulls (GET answered 200) noted in this replica's buffer.",
			func(s pulls.Stats) uint64 { return s.Noted }),
		counter("dropped_total", "Pulls dropped because the buffer held lifecycle.pulls.maxentries keys (or the key was invalid).",
			func(s pulls.Stats) uint64 { return s.Dropped }),
		counter("written_total", "Pull records a flush moved forward in the shared state.",
			func(s pulls.Stats) uint64 { return s.Written }),
		counter("flush_failures_total", "Buffered pulls a flush could not write (kept for the next flush when there is room).",
			func(s pulls.Stats) uint64 { return s.Failed }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "imagegate", Subsystem: "pulls", Name: "buffered",
			Help: "(repository, digest) pairs waiting for the next flush."}, func() float64 { return float64(t.Stats().Buffered) }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// pullsStore is where pull records live: the shared store with replicas;
// on a single node a memory store of their own, so that pull records
// (one per manifest pulled) can never fill the memory store that holds
// the tag locks and leases (fleet.Memory refuses new items when full).
func pullsStore(shared fleet.Store, multi bool) fleet.Store {
	if multi {
		return shared
	}
	return fleet.NewMemory(0)
}

// pullReader is the reader of the pull records, nil when pulls are not
// tracked.
func pullReader(c config.Pulls, shared fleet.Store, now func() time.Time) *pulls.Reader {
	if !c.Enabled {
		return nil
	}
	return &pulls.Reader{Store: shared, Expiry: c.Expiry, Now: now}
}
