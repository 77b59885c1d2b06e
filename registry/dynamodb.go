package registry

import (
	"context"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/dynamodb"
)

// openDynamoDB opens the DynamoDB metadata store.
func openDynamoDB(ctx context.Context, c config.DynamoDBMetadata) (metadata.Store, error) {
	return dynamodb.New(ctx, dynamodb.Config{
		Table: c.Table, Region: c.Region, Endpoint: c.Endpoint,
		CreateTable: c.CreateTable, Retention: c.Retention, MaxAttempts: c.MaxAttempts,
	})
}
