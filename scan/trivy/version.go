package trivy

import "runtime/debug"

// trivyModule is the module whose version reports carry.
const trivyModule = "github.com/aquasecurity/trivy"

// pinnedVersion is the Trivy version go.mod requires (a test keeps them
// equal). Reports fall back to it where the binary has no module
// information, as in test binaries.
const pinnedVersion = "v0.74.0"

// scannerVersion returns the Trivy module version linked into this binary
// ("v0.74.0").
func scannerVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path != trivyModule {
				continue
			}
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return pinnedVersion
}
