package scan_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoScannerDependency keeps Trivy out of every package but scan/trivy
// (and trivytest): the gate and its tests link only this interface.
func TestNoScannerDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-test",
		"github.com/imagegate/imagegate/scan", "github.com/imagegate/imagegate/scan/scantest").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "aquasecurity") {
			t.Errorf("%s is a dependency of package scan or scantest", pkg)
		}
	}
}
