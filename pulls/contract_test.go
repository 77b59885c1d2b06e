package pulls_test

import (
	"testing"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/pulls/pullstest"
)

// TestContract runs the pull-tracking contract (pulls/pullstest) on the
// memory store; fleet/dynamodb and fleet/sqlstore run it on their servers.
func TestContract(t *testing.T) {
	pullstest.Run(t, func(*testing.T) fleet.Store { return fleet.NewMemory(0) })
}
