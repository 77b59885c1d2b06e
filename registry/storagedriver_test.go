package registry

import (
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/storagedriver/fs"
)

// The configuration names the driver storagedriver/fs registers.
func TestFilesystemDriverName(t *testing.T) {
	if config.FilesystemDriverImagegate != fs.DriverName {
		t.Fatalf("config names %q, storagedriver/fs registers %q", config.FilesystemDriverImagegate, fs.DriverName)
	}
}
