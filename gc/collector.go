package gc

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/fleet"
)

// Untagged policies (lifecycle.gc.untagged).
const (
	UntaggedKeep   = "keep"
	UntaggedDelete = "delete"
)

// Options configure a Collector.
type Options struct {
	// Store is the fleet store holding the references index, the
	// protocol's touches and tombstones, the lease and the backfill
	// marker.
	Store     fleet.Store
	Namespace distribution.Namespace
	// Driver is the storage the blobs are walked and deleted in (when it
	// implements BatchDeleter, blobs go in batches), and where pushes
	// leave their not-indexed markers (gc/unindexed.go).
	Driver storagedriver.StorageDriver
	// Guard wraps a repository so that its manifest deletions are
	// recorded, discharged from the quota and removed from the index
	// (middleware.Guard.Wrap). Without it no manifest is deleted.
	Guard func(distribution.Repository) distribution.Repository
	// Fence is the touch/tombstone protocol shared with the pushes.
	Fence *Fence
	// Grace: a blob younger than this (its storage modification time) is
	// never collected, nor a manifest untagged for less (default 24 h).
	Grace time.Duration
	// Untagged is UntaggedKeep (default) or UntaggedDelete: whether a
	// manifest no tag, live index or live subject keeps is deleted once
	// older than UntaggedAge (default: Grace).
	Untagged    string
	UntaggedAge time.Duration
	// MaxDeletions bounds the manifests plus blobs one pass deletes
	// (default 10,000); the next pass continues.
	MaxDeletions int
	// MaxManifests bounds the index entries a pass reads (default
	// 1,000,000): a pass that could not read them all deletes no blob.
	MaxManifests int
	// ScanReportRoot is the tree of the scan reports stored in Driver
	// (scan/detach.ReportRoot: reports too big for their fleet item);
	// each is deleted once not written for ScanReportTTL (how long its
	// fleet item lives, scan/detach's TTL) + ScanReportMargin. "": none
	// are collected.
	ScanReportRoot string
	ScanReportTTL  time.Duration
	Replica        string
	Logger         *slog.Logger
	Metrics        *Metrics
	// Now is the clock (tests inject one); default time.Now.
	Now func() time.Time
}

// Collector plans and runs garbage collection passes.
type Collector struct {
	opts Options
	refs *Refs
	// unindexed are the markers of manifests pushed while the references
	// index could not be written (gc/unindexed.go).
	unindexed *Unindexed
	now       func() time.Time
	// windowSize bounds the files of each stray tree a pass checks
	// (windowLimit; tests make it small).
	windowSize int
	// hook, in tests, is called at a pass's points ("planned",
	// "tombstoned", "checked") to replay races deterministically.
	hook func(point string, subject string)
}

// New returns a collector over opts, defaulted.
func New(opts Options) (*Collector, error) {
	if opts.Store == nil || opts.Namespace == nil || opts.Driver == nil {
		return nil, fmt.Errorf("gc: a fleet store, a namespace and a storage driver are required")
	}
	if opts.Grace <= 0 {
		opts.Grace = 24 * time.Hour
	}
	if opts.Grace < InFlight {
		return nil, fmt.Errorf("gc: grace %s is shorter than %s, the time a push may take to store what it touched", opts.Grace, InFlight)
	}
	if opts.Untagged == "" {
		opts.Untagged = UntaggedKeep
	}
	if opts.Untagged != UntaggedKeep && opts.Untagged != UntaggedDelete {
		return nil, fmt.Errorf("gc: untagged %q: want keep or delete", opts.Untagged)
	}
	if opts.UntaggedAge <= 0 {
		opts.UntaggedAge = opts.Grace
	}
	if opts.MaxDeletions <= 0 {
		opts.MaxDeletions = 10000
	}
	if opts.MaxManifests <= 0 {
		opts.MaxManifests = 1_000_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Replica == "" {
		opts.Replica = "imagegate"
	}
	if opts.Fence == nil {
		opts.Fence = NewFence(opts.Store, opts.Grace, opts.Now)
	}
	return &Collector{opts: opts, refs: NewRefs(opts.Store), unindexed: NewUnindexed(opts.Driver), now: opts.Now,
		windowSize: windowLimit}, nil
}

// Refs is the references index the collector reads.
func (c *Collector) Refs() *Refs { return c.refs }

// SetHook installs a test hook called at a pass's points.
func (c *Collector) SetHook(h func(point, subject string)) { c.hook = h }

func (c *Collector) reach(point, subject string) {
	if c.hook != nil {
		c.hook(point, subject)
	}
}
