package registry

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
	"github.com/imagegate/imagegate/metadata/recorder"
	"github.com/imagegate/imagegate/push"
)

// openMetadata opens the configured metadata store and the recorder
// (outbox and replay) in front of it. Replicas (cfg.Replicated) keep the
// outbox in the shared object store behind driver, replayed by whichever
// replica holds its lease in shared; a single node keeps it in a local
// bbolt file.
func openMetadata(ctx context.Context, cfg *config.Config, driver storagedriver.StorageDriver, shared fleet.Store,
	replica string, logger *slog.Logger) (metadata.Store, *recorder.Recorder, error) {
	var store metadata.Store
	switch cfg.Metadata.Driver {
	case "bolt":
		s, err := bolt.Open(cfg.Metadata.Bolt.Path, 5*time.Second)
		if err != nil {
			return nil, nil, err
		}
		store = s
	case "dynamodb":
		s, err := openDynamoDB(ctx, cfg.Metadata.DynamoDB)
		if err != nil {
			return nil, nil, err
		}
		store = s
	case "postgres", "mysql":
		s, err := openSQL(ctx, cfg.Metadata, shared)
		if err != nil {
			return nil, nil, err
		}
		store = s
	default:
		return nil, nil, fmt.Errorf("registry: unknown metadata driver %q", cfg.Metadata.Driver)
	}
	opts := recorder.Options{
		Mode:       recorder.Mode(cfg.Metadata.FailMode),
		OutboxPath: cfg.Metadata.Outbox,
		Timeout:    cfg.Metadata.Timeout,
		Logger:     logger.With("component", "metadata"),
	}
	if cfg.Replicated() {
		opts.Storage, opts.Fleet, opts.Owner = driver, shared, replica
	}
	rec, err := recorder.New(store, opts)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, rec, nil
}

// locator describes where the configured storage driver keeps content.
func locator(cfg *config.Config) push.Locator {
	switch cfg.Storage.Driver {
	case "filesystem":
		root, err := filepath.Abs(cfg.Storage.Filesystem.RootDirectory)
		if err != nil {
			root = cfg.Storage.Filesystem.RootDirectory
		}
		return push.Locator{Driver: "filesystem", Root: root}
	case "s3":
		return push.Locator{Driver: "s3", Bucket: cfg.Storage.S3.Bucket,
			KeyPrefix: strings.TrimPrefix(cfg.Storage.S3.RootDirectory, "/")}
	default:
		return push.Locator{Driver: cfg.Storage.Driver}
	}
}
