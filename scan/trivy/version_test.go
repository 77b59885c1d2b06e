package trivy

import (
	"os"
	"strings"
	"testing"
)

// TestPinnedVersion keeps pinnedVersion equal to the Trivy version go.mod
// requires.
func TestPinnedVersion(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == trivyModule {
			if f[1] != pinnedVersion {
				t.Fatalf("go.mod requires %s %s, pinnedVersion is %s", trivyModule, f[1], pinnedVersion)
			}
			return
		}
	}
	t.Fatalf("go.mod does not require %s", trivyModule)
}
