// Package buildinfo reports what binary this is. Version and Commit are set
// at link time: -ldflags "-X github.com/imagegate/imagegate/internal/buildinfo.Version=v1.2.3".
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

var (
	// Version is the release version, "dev" for local builds.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = ""
)

// commit returns Commit, or the VCS revision Go recorded, or "unknown".
func commit() string {
	if Commit != "" {
		return Commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// String returns "imagegate VERSION (commit COMMIT, GOVERSION)".
func String() string {
	return fmt.Sprintf("imagegate %s (commit %s, %s)", Version, commit(), runtime.Version())
}
