package registry

import (
	"context"
	"fmt"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/shim"
)

// newAnalysis builds the gate's analyze stage from its configuration: the
// analyzer, installed as the diff_id resolver's tap so that each new
// layer is indexed in the read that verifies its diff_id, and the
// policies. With no policy that analyses (none, or all off) the stage is
// off and nothing is indexed.
func newAnalysis(c config.Analysis, diffIDs *diffid.Resolver, driver storagedriver.StorageDriver) (push.Analysis, error) {
	rules := make([]analysis.Rule, 0, len(c.Policies))
	active := false
	for _, p := range c.Policies {
		rules = append(rules, analysis.Rule{Repositories: p.Repositories, Mode: analysis.Mode(p.Mode),
			MinEfficiency: p.MinEfficiency, MaxWastedBytes: p.MaxWastedBytes, MaxWastedPercent: p.MaxWastedPercent, AllowUnsafePaths: c.AllowUnsafePaths})
		active = active || p.Mode != string(analysis.Off)
	}
	set, err := analysis.NewSet(rules)
	if err != nil {
		return push.Analysis{}, fmt.Errorf("registry: %w", err)
	}
	if !active {
		return push.Analysis{}, nil
	}
	a := analysis.New(layers.NewDriverStore(driver), diffIDs,
		layers.Limits{MaxEntries: c.MaxLayerEntries, MaxImageEntries: c.MaxImageEntries})
	diffIDs.SetTap(a)
	return push.Analysis{Analyzer: a, Policies: set}, nil
}

// uploadTap is the tarball door's tap: the shim hands it each layer's
// uncompressed bytes as it stores them, so that the gate's analysis
// finds the index kept and reads no layer again. Nil when analysis is off.
func uploadTap(a push.Analysis) shim.LayerTap {
	if a.Analyzer == nil {
		return nil
	}
	return analyzerTap{a.Analyzer}
}

type analyzerTap struct{ a *analysis.Analyzer }

func (t analyzerTap) Begin(ctx context.Context) shim.LayerSink { return t.a.Begin(ctx) }

// registerAnalysisMetrics exports how layers were indexed: from a read
// the push made anyway, or read once more for the analysis alone.
func registerAnalysisMetrics(reg prometheus.Registerer, a *analysis.Analyzer) error {
	if a == nil {
		return nil
	}
	for _, read := range []string{"shared", "again"} {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "analysis", Name: "layers_indexed_total",
			Help:        "Layers indexed for the layer analysis, by read: shared (the diff_id's or the upload's read) or again (read once more for the analysis alone).",
			ConstLabels: prometheus.Labels{"read": read},
		}, func() float64 {
			shared, again := a.Reads()
			if read == "shared" {
				return float64(shared)
			}
			return float64(again)
		})
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registry: registering analysis metrics: %w", err)
		}
	}
	return nil
}
