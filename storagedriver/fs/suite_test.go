package fs

import (
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/testsuites"
)

// TestDriverSuite runs distribution's storage driver test suite, the
// contract every driver of distribution's must honour.
func TestDriverSuite(t *testing.T) {
	root := t.TempDir()
	testsuites.Driver(t, func() (storagedriver.StorageDriver, error) { return New(root), nil }, false)
}
