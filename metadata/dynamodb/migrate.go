package dynamodb

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// addMissingIndexes creates, with UpdateTable, each index of indexes the
// table desc describes lacks (a table made by an older version lacks
// indexPending), one at a time as DynamoDB requires, waiting until each
// is ACTIVE; it returns the last description. DynamoDB backfills a new
// index from the existing items, which on a large table takes minutes:
// the wait is bounded like the table's (maxTableWait, ctx), and a New
// that gave up finds the index being created next time and waits again.
//
// Items written before their index existed lack its key attribute when
// it is one this version added (attrPending): records left pending by an
// older version are not in indexPending.
func (s *Store) addMissingIndexes(ctx context.Context, desc *types.TableDescription) (*types.TableDescription, error) {
	for _, name := range missingIndexes(desc) {
		partitionKey := ""
		for _, ix := range indexes {
			if ix.name == name {
				partitionKey = ix.partitionKey
			}
		}
		ix := indexDefinition(name, partitionKey)
		_, err := s.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:            aws.String(s.table),
			AttributeDefinitions: []types.AttributeDefinition{stringAttribute(partitionKey), stringAttribute(attrID)},
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName:  ix.IndexName,
				KeySchema:  ix.KeySchema,
				Projection: ix.Projection,
			}}},
		})
		var waitErr error
		if desc, waitErr = s.waitActive(ctx); waitErr != nil {
			return nil, fmt.Errorf("metadata/dynamodb: adding index %s: %w", name, waitErr)
		}
		// Another replica starting at the same time may have added it first:
		// its UpdateTable wins, this one fails, and the index is there.
		if err != nil && slices.Contains(missingIndexes(desc), name) {
			return nil, s.fail(ctx, "adding index "+name+" to table", s.table, err)
		}
	}
	return desc, nil
}
