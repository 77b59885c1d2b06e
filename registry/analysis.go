package registry

import (
	"fmt"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/push"
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
