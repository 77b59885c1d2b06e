// Package retention applies lifecycle.retention: it reads every tag of the
// repositories a rule governs, with the time the tag was last written,
// asks package lifecycle what to keep (Plan, a dry run), and deletes the
// rest (Apply) through the registry's own deletion path — the guard on
// distribution's handlers — so immutability, the tag locks, the deletion
// records and the quotas' discharge apply exactly as to a client's DELETE.
//
// Push time is the modification time of the tag's link in storage
// (…/_manifests/tags/<tag>/current/link): the storage driver reports it
// for every tag however it was written (a push, a tarball upload, content
// older than the metadata store), and it changes exactly when the tag is
// written, so a tag moved by a later push counts from that push. The
// metadata records are not used: a tag's record may be missing (content
// pushed before imagegate, records expired) and finding the record that
// last wrote a tag means a search per tag. Copying the storage to another
// bucket resets the times (docs/lifecycle.md).
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/pulls"
)

// Bounds of one plan: the repositories it reads, the tags per repository
// (a repository with more is planned over its first maxTags tags by name)
// and the tags in all (repositories past maxPlanTags are left for a plan
// narrowed with a filter). The plan says what it left out.
const (
	maxRepositories = 10000
	maxTags         = 10000
	maxPlanTags     = 100000
)

// Options configure a Service.
type Options struct {
	// Namespace is distribution's storage, read for repositories and tags.
	Namespace distribution.Namespace
	// Driver is the storage driver, read for the tags' link times.
	Driver storagedriver.StorageDriver
	// Guard wraps a repository in the registry's deletion path (the
	// guard: locks, immutability, records, quotas). Required for Apply.
	Guard func(distribution.Repository) distribution.Repository
	// Rules are the retention rules; Immutable the immutability rules
	// (an immutable tag is always kept).
	Rules     *lifecycle.Retention
	Immutable *lifecycle.Immutability
	// MaxDeletions bounds the tags one Apply deletes (at least 1).
	MaxDeletions int
	Logger       *slog.Logger
	// Now is the clock plans are made at; nil: time.Now.
	Now func() time.Time
	// Pulls reads when manifests were last pulled, for rules with
	// keeppulleddays; nil: pulls are not tracked (such rules then keep
	// every tag they would delete as unpulled).
	Pulls PullReader
}

// PullReader reads the pull records (package pulls' Reader).
type PullReader interface {
	// Lookup returns the latest pull of each digest of repo, by digest.
	Lookup(ctx context.Context, repo string) (map[string]pulls.Record, bool, error)
	// Since returns when pull tracking began; false: not yet.
	Since(ctx context.Context) (time.Time, bool, error)
}

// Service plans and applies retention.
type Service struct {
	opts Options
}

// New returns a Service over opts.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.MaxDeletions = max(opts.MaxDeletions, 1)
	return &Service{opts: opts}
}

// Enabled reports whether any retention rule is configured.
func (s *Service) Enabled() bool { return s != nil && s.opts.Rules.Enabled() }
