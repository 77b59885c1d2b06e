// Package dynamodb is the fleet.Store of replicas whose metadata is on
// DynamoDB: fleet items live in the metadata table itself
// (docs/metadata-dynamodb.md, "Fleet items"), so a deployment gains no
// table, permission set or moving part.
//
// Item under key in space: partition "fleet#"+space, sort key key. Every
// read is strongly consistent and every write conditional on the version
// read, so replicas compare-and-swap. Expiry is exact to this process's
// clock: reads hide an item from its expiry on and a write of version 0
// treats it as absent, whatever DynamoDB's TTL (which deletes expired
// items lazily, within days) has done yet. Replicas' clocks must agree to
// well within the shortest TTL they use.
package dynamodb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/imagegate/imagegate/fleet"
	metadatadynamodb "github.com/imagegate/imagegate/metadata/dynamodb"
)

// Store is a fleet.Store in the metadata table. It is safe for concurrent
// use by many processes.
type Store struct {
	client *dynamodb.Client
	table  string
	// now is the clock of expiry.
	now func() time.Time
}

// New returns a Store in the metadata table cfg describes, with the
// metadata store's client (endpoint, region, credentials, retries). With
// cfg.CreateTable it makes sure the table exists as the metadata store
// would (creating it and its indexes when missing, waiting until they are
// active) and that TTL is on for expires_at; without, it contacts nothing.
func New(ctx context.Context, cfg metadatadynamodb.Config) (*Store, error) {
	meta, err := metadatadynamodb.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("fleet/dynamodb: %w", err)
	}
	if cfg.CreateTable {
		if err := meta.EnableTTL(ctx); err != nil {
			return nil, fmt.Errorf("fleet/dynamodb: %w", err)
		}
	}
	return &Store{client: meta.Client(), table: cfg.Table, now: time.Now}, nil
}

var _ fleet.Store = (*Store)(nil)
