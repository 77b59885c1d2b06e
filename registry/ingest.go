package registry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/prometheus/client_golang/prometheus"

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

// registerSendfileMetrics exports in's ServeStats: the blob responses
// served by sendfile and their body bytes, which distribution's own
// response-size histogram counts as 0 (imagegate's access line and
// imagegate_http_response_bytes_total count them too).
func registerSendfileMetrics(reg prometheus.Registerer, in *ingest.Ingester) error {
	counter := func(name, help string, f func(ingest.ServeStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "ingest", Name: name, Help: help},
			func() float64 { return float64(f(in.ServeStats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("sendfile_responses_total", "Blob GETs and HEADs answered from the blob's file by sendfile (distribution's blob server bypassed).",
			func(s ingest.ServeStats) uint64 { return s.Responses }),
		counter("sendfile_bytes_total", "Body bytes of the blob responses sent by sendfile (distribution's registry_http_response_size_bytes counts them as 0).",
			func(s ingest.ServeStats) uint64 { return s.Bytes }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registry: registering the sendfile metrics: %w", err)
		}
	}
	return nil
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
