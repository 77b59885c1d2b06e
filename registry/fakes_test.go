package registry

import (
	"context"
	"errors"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// brokenDriver is a fault-injection fake: a storage driver whose Stat
// fails as an unreachable backend would (a real filesystem cannot be made
// to fail this way portably).
type brokenDriver struct{ storagedriver.StorageDriver }

func (brokenDriver) Stat(context.Context, string) (storagedriver.FileInfo, error) {
	return nil, errors.New("connection refused")
}

var _ storagedriver.StorageDriver = brokenDriver{inmemory.New()}
