package registry

import (
	"context"
	"errors"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

// openDynamoDB opens the DynamoDB metadata store.
func openDynamoDB(ctx context.Context, c config.DynamoDBMetadata) (metadata.Store, error) {
	return nil, errors.New("registry: the dynamodb metadata driver is not built in yet")
}
