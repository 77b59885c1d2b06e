package fleet_test

import (
	"testing"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/fleet/fleettest"
)

func TestMemoryContract(t *testing.T) {
	fleettest.Run(t, func(*testing.T) fleet.Store { return fleet.NewMemory(0) })
}
