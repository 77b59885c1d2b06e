package recorder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/metadata"
)

// storageOutboxRoot is where the replicas' outbox lives in registry
// storage, one object per op: ROOT/<UUIDv7>.json. It sits beside the
// other state imagegate keeps there (/imagegate/robots,
// /imagegate/digests), outside distribution's /docker tree and outside the
// S3 driver's _imagegate/ prefix, whose objects a lifecycle rule expires.
const storageOutboxRoot = "/imagegate/outbox/metadata"

// opSuffix ends every op's name; other names (the filesystem driver's
// temporary files while it writes one) are not ops.
const opSuffix = ".json"

// storageOutbox is the outbox of replicas, in the registry's object
// storage: shared by every replica (any of them replays it), and up when
// the metadata database is not — which is when the outbox is written.
// Ops are named by time-ordered ids (UUIDv7, monotonic within a process),
// so listing them in name order is the order each process enqueued them.
type storageOutbox struct {
	driver storagedriver.StorageDriver
}

func newStorageOutbox(d storagedriver.StorageDriver) *storageOutbox {
	return &storageOutbox{driver: d}
}

// enqueue implements outbox: durable when the driver's PutContent returns
// (an S3 PUT; the filesystem driver writes and renames without fsync).
func (s *storageOutbox) enqueue(ctx context.Context, o op) error {
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("outbox: encoding: %w", err)
	}
	p := path.Join(storageOutboxRoot, metadata.NewID()+opSuffix)
	if err := s.driver.PutContent(ctx, p, data); err != nil {
		return fmt.Errorf("outbox: writing %s: %w", p, err)
	}
	return nil
}

// names lists the ops' paths in order.
func (s *storageOutbox) names(ctx context.Context) ([]string, error) {
	all, err := s.driver.List(ctx, storageOutboxRoot)
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: listing %s: %w", storageOutboxRoot, err)
	}
	ops := all[:0]
	for _, p := range all {
		if strings.HasSuffix(p, opSuffix) {
			ops = append(ops, p)
		}
	}
	slices.Sort(ops)
	return ops, nil
}

// oldest implements outbox. An op removed by another replica between the
// listing and the read is skipped.
func (s *storageOutbox) oldest(ctx context.Context, limit int) ([]queued, error) {
	names, err := s.names(ctx)
	if err != nil {
		return nil, err
	}
	var out []queued
	for _, p := range names {
		if len(out) == limit {
			break
		}
		data, err := s.driver.GetContent(ctx, p)
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("outbox: reading %s: %w", p, err)
		}
		var o op
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("outbox: %s: %w", p, err)
		}
		out = append(out, queued{key: p, op: o})
	}
	return out, nil
}

// remove implements outbox.
func (s *storageOutbox) remove(ctx context.Context, key string) error {
	err := s.driver.Delete(ctx, key)
	if err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
		return fmt.Errorf("outbox: deleting %s: %w", key, err)
	}
	return nil
}

// len implements outbox: one listing (one request per 1,000 ops on S3).
func (s *storageOutbox) len(ctx context.Context) (int, error) {
	names, err := s.names(ctx)
	return len(names), err
}

// close implements outbox; the driver is the registry's, left open.
func (s *storageOutbox) close() error { return nil }

var _ outbox = (*storageOutbox)(nil)
