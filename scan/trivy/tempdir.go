package trivy

import (
	"fmt"

	xos "github.com/aquasecurity/trivy/pkg/x/os"
)

// RemoveProcessTemp removes the trivy-* directory Trivy creates once per
// process under TMPDIR for its scratch files (it never removes it itself).
// Call it once, when the process is about to exit and every Scanner is
// closed: Trivy cannot create another one in this process afterwards. It
// is a no-op when Trivy never created the directory.
func RemoveProcessTemp() error {
	if err := xos.Cleanup(); err != nil {
		return fmt.Errorf("remove Trivy's temporary directory: %w", err)
	}
	return nil
}
