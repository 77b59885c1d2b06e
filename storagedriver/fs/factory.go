package fs

import (
	"context"
	"errors"
	"fmt"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
)

// DriverName is the driver's name in distribution's factory (imagegate's
// configuration maps storage.filesystem to it: config.FilesystemDriverImagegate).
const DriverName = "imagegate-filesystem"

func init() { factory.Register(DriverName, driverFactory{}) }

type driverFactory struct{}

// Create takes distribution's filesystem parameters: rootdirectory (required).
func (driverFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	root, _ := params["rootdirectory"].(string)
	if root == "" {
		return nil, errors.New("fs: rootdirectory is required")
	}
	for k := range params {
		if k != "rootdirectory" {
			return nil, fmt.Errorf("fs: unknown parameter %q", k)
		}
	}
	return New(root), nil
}
