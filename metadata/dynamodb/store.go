// Package dynamodb is the metadata store on Amazon DynamoDB, for
// deployments that run several imagegate replicas or keep no local disk.
//
// One table holds everything (docs/metadata-dynamodb.md): a main item per
// record, chunk items for records above the 400 KB item limit, and five
// keys-only global secondary indexes for listing by time, repository, user
// and digest, and pending records (a sparse index). Reads of records are
// strongly consistent; the indexes that List and Pending walk are
// eventually consistent on AWS.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

// Store is a metadata.Store on one DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	client    *dynamodb.Client
	table     string
	retention time.Duration
	// chunkBytes is the size of one chunk item's data; tests lower it.
	chunkBytes int
	// now is the clock of retention: expiry of records without a receive
	// time, and hiding records past their expiry.
	now func() time.Time
}

// New returns a Store on c.Table. With c.CreateTable it creates the table
// if missing and waits (bounded by ctx) until it is usable; without it, New
// contacts nothing: Ping tells whether the table is reachable.
func New(ctx context.Context, c Config) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client, err := newClient(ctx, c)
	if err != nil {
		return nil, err
	}
	s := &Store{
		client:     client,
		table:      c.Table,
		retention:  c.Retention,
		chunkBytes: defaultChunkBytes,
		now:        time.Now,
	}
	if c.CreateTable {
		if err := s.ensureTable(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Ping implements metadata.Store: the table is described, active (or
// being updated) and has every index List needs.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/dynamodb: ping: %w", err)
	}
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return s.fail(ctx, "ping", s.table, err)
	}
	switch st := out.Table.TableStatus; st {
	case types.TableStatusActive, types.TableStatusUpdating:
	default:
		return fmt.Errorf("metadata/dynamodb: ping: %w: table %s is %s", metadata.ErrUnavailable, s.table, st)
	}
	if err := checkIndexes(out.Table); err != nil {
		return fmt.Errorf("metadata/dynamodb: ping: %w", errors.Join(metadata.ErrUnavailable, err))
	}
	return nil
}

// Close implements metadata.Store. The SDK client holds nothing to
// release but idle connections, which time out on their own; the table
// and its records stay.
func (s *Store) Close() error { return nil }

var _ metadata.Store = (*Store)(nil)
