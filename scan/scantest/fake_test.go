package scantest_test

import (
	"testing"

	"github.com/imagegate/imagegate/scan/scantest"
)

func TestFakeContract(t *testing.T) {
	scantest.Contract(t, &scantest.Fake{})
}
