package registry

import (
	"context"
	"log/slog"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/ingest"
)

// newIngester returns the Ingester that stores upload bodies with
// imagegate's parallel copy (ingest/), and the tarball door's blobs with
// one sha256 (shim.Options.OneHash), or nil: it is on for the filesystem
// driver unless storage.filesystem.ingest is distribution. Other drivers
// keep distribution's copy until it is measured on them
// (docs/performance.md). tap (nil: none) is fed the uploads sent in one
// body (uploadLearner).
func newIngester(cfg *config.Config, driver storagedriver.StorageDriver, tap ingest.Tap, logger *slog.Logger) *ingest.Ingester {
	if cfg.Storage.Driver != "filesystem" || cfg.Storage.Filesystem.Ingest == config.FilesystemWriterDistribution {
		return nil
	}
	return ingest.New(driver, logger.With("component", "ingest"), ingest.WithTap(tap))
}

// ingestMiddleware returns the repository middleware of in, to be listed
// first (the innermost), or none when in is nil.
func ingestMiddleware(in *ingest.Ingester) []configuration.Middleware {
	if in == nil {
		return nil
	}
	return []configuration.Middleware{in.Middleware()}
}

// uploadLearner is ingest's tap: each upload sent in one body goes, as it
// is stored, to a diffid.Learner, which computes its diff_id and feeds
// its layer to the analysis (layers, nil when analysis is off), so that
// the manifest reads no layer again. Nil when neither the diff_ids are
// verified nor the layers analysed: nobody would use what it learns.
func uploadLearner(c config.Validation, diffIDs *diffid.Resolver, layers diffid.PendingTap) ingest.Tap {
	if !c.VerifyDiffIDs && layers == nil {
		return nil
	}
	return learnerTap{diffIDs: diffIDs, layers: layers}
}

type learnerTap struct {
	diffIDs *diffid.Resolver
	layers  diffid.PendingTap
}

func (t learnerTap) Begin(ctx context.Context) ingest.TapSink { return t.diffIDs.Learn(ctx, t.layers) }
