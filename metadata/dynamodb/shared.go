package dynamodb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Client returns the DynamoDB client New built from the Config (endpoint,
// region, credentials, retries), for packages that keep items of their own
// in the table (fleet/dynamodb, under partition keys other than "rec#…").
func (s *Store) Client() *dynamodb.Client { return s.client }

// EnableTTL turns DynamoDB TTL on for expires_at unless it is already on
// (CreateTable does it only with Retention). It is harmless to records:
// without Retention they carry no expires_at, and DynamoDB never deletes
// items without the attribute. An error names a table whose TTL is on
// another attribute.
func (s *Store) EnableTTL(ctx context.Context) error { return s.enableTTL(ctx) }
