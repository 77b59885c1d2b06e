package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	fleetdynamodb "github.com/imagegate/imagegate/fleet/dynamodb"
	fleetsql "github.com/imagegate/imagegate/fleet/sqlstore"
)

// OpenFleet is openFleet for the processes beside the registry that share
// its state (the scanner pool's DB pin).
func OpenFleet(ctx context.Context, cfg *config.Config) (fleet.Store, error) {
	return openFleet(ctx, cfg)
}

// openFleet opens the state the replicas of this deployment share (tag
// locks, login lockout, refresh tokens, upload progress, singleton
// leases): the store of the metadata database they already share, or this
// process's memory for a single node.
func openFleet(ctx context.Context, cfg *config.Config) (fleet.Store, error) {
	switch cfg.Metadata.Driver {
	case "dynamodb":
		s, err := fleetdynamodb.New(ctx, dynamoDBConfig(cfg.Metadata.DynamoDB))
		if err != nil {
			return nil, fmt.Errorf("registry: opening the shared state in DynamoDB: %w", err)
		}
		return s, nil
	case "postgres", "mysql":
		s, err := fleetsql.New(ctx, sqlConfig(cfg.Metadata))
		if err != nil {
			return nil, fmt.Errorf("registry: opening the shared state in %s: %w", cfg.Metadata.Driver, err)
		}
		return s, nil
	default:
		return fleet.NewMemory(0), nil
	}
}

// ownCloser is store as an io.Closer when this server opened it (owned)
// and it holds something to release, else nil.
func ownCloser(store fleet.Store, owned bool) io.Closer {
	if c, ok := store.(io.Closer); ok && owned {
		return c
	}
	return nil
}

// singleNode reports whether store is this process's own (fleet.Memory):
// nothing is shared with another replica.
func singleNode(store fleet.Store) bool {
	_, ok := store.(*fleet.Memory)
	return ok
}

// WithFleet makes the server share store with other servers instead of
// opening its own; store is then shared even when it is a fleet.Memory
// (tests run several replicas in one process with it).
func WithFleet(store fleet.Store) Option { return func(o *options) { o.fleet = store } }

// replicaID names this process among the replicas, in lock and lease
// owners: host name, process id and a random suffix (a restarted process
// on the same host with the same pid is still another replica).
func replicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// sharedOrNil is store when replicas share it, else nil.
func sharedOrNil(store fleet.Store, shared bool) fleet.Store {
	if shared {
		return store
	}
	return nil
}
