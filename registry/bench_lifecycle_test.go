package registry

import (
	"context"
	"testing"

	"github.com/imagegate/imagegate/config"
)

// BenchmarkManifestPutLifecycle measures what immutable tags and quotas
// add to a tagged manifest PUT: alternating in one run between a server
// without them and one where every tag of the PUT (1.0.N) is protected
// (semver under "**") and the namespace has a quota (every PUT takes the
// budget's lock and reads its charge). It reports both p50s and the
// difference.
//
//	go test -run '^$' -bench BenchmarkManifestPutLifecycle -benchtime 300x ./registry
func BenchmarkManifestPutLifecycle(b *testing.B) {
	plain := startServer(&testing.T{}, nil)
	defer plain.Shutdown(context.Background())
	ruled := startServer(&testing.T{}, func(c *config.Config) {
		c.Lifecycle.Immutable = []config.ImmutableRule{{Repositories: "**", Tags: []string{"semver"}}}
		c.Lifecycle.Quotas = []config.Quota{{Repositories: "**", Scope: "namespace", MaxBytes: 1 << 40}}
	})
	defer ruled.Shutdown(context.Background())
	sides := alternate(b, newPutSide(b, plain.base, plain), newPutSide(b, ruled.base, ruled))
	without, with := sides[0].percentile(50), sides[1].percentile(50)
	b.ReportMetric(without, "plain-p50-ms")
	b.ReportMetric(with, "lifecycle-p50-ms")
	b.ReportMetric(sides[1].percentile(99), "lifecycle-p99-ms")
	b.ReportMetric(with-without, "added-p50-ms")
}
