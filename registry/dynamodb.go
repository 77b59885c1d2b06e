package registry

import (
	"context"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/dynamodb"
)

// openDynamoDB opens the DynamoDB metadata store.
func openDynamoDB(ctx context.Context, c config.DynamoDBMetadata) (metadata.Store, error) {
	return dynamodb.New(ctx, dynamoDBConfig(c))
}

// dynamoDBConfig is the store configuration of c, shared by the metadata
// store and the fleet state in the same table.
func dynamoDBConfig(c config.DynamoDBMetadata) dynamodb.Config {
	return dynamodb.Config{
		Table: c.Table, Region: c.Region, Endpoint: c.Endpoint,
		CreateTable: c.CreateTable, Retention: c.Retention, MaxAttempts: c.MaxAttempts,
	}
}
