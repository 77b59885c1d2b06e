package fleet

import "testing"

// TestFleet runs the checks that leave the fleet whole (the scanner pool
// check restarts the scanner it kills) on one fleet of three replicas
// behind HAProxy and its pool of two scanners, one after the other. The tests that kill
// replicas (TestKill) and the conformance suite (TestConformance, whose
// data needs other validation settings) start fleets of their own.
func TestFleet(t *testing.T) {
	t.Parallel()
	f := startFleet(t, options{})
	for _, c := range []struct {
		name string
		run  func(*testing.T, *fleet)
	}{
		{"crane", testCrane},
		{"skopeo", testSkopeo},
		{"docker", testDocker},
		{"tokens", testTokens},
		{"vulnerable", testVulnerable},
		{"scanner pool", testScannerPool},
		{"lockout", testLockout},
		{"progress", testProgress},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}
