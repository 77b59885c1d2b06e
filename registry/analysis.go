package registry

import (
	"context"
	"fmt"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

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
			MinEfficiency: p.MinEfficiency, MaxWastedBytes: p.MaxWastedBytes, MaxWastedPercent: p.MaxWastedPercent})
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
