package fleet

import (
	"strings"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/test/conformance"
)

// TestConformance runs the OCI distribution-spec conformance suite through
// HAProxy in front of a fleet, with auth on, at every version
// test/conformance checks one process at, judged the same way: no failed
// check, no skipped one but those the version's profile disables. The
// replicas run with the suite's settings (conformance.ServerEnv). Reports
// land in $IMAGEGATE_CONFORMANCE_OUT/fleet/<version>/.
func TestConformance(t *testing.T) {
	t.Parallel()
	suite := liveserver.RequireBinary(t, "OCI_CONFORMANCE_BIN")
	f := startFleet(t, options{env: conformance.ServerEnv})
	creds := []string{"OCI_USERNAME=conformance", "OCI_PASSWORD=" + users["conformance"]}
	for _, version := range conformance.Versions {
		t.Run(version, func(t *testing.T) {
			// Repositories of its own per version: both runs share the fleet.
			ns := "v" + strings.ReplaceAll(version, ".", "")
			env := append([]string{"OCI_REPO1=" + ns + "/repo1", "OCI_REPO2=" + ns + "/repo2"}, creds...)
			conformance.Check(t, suite, f.lb.Addr, version, "fleet/"+version, env)
		})
	}
}
