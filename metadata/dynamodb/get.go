package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

// Get implements metadata.Store: one strongly consistent Query of the
// record's partition reads the main item and its chunks together. A
// record past its retention is metadata.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*metadata.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metadata/dynamodb: get %s: %w", id, err)
	}
	if id == "" {
		return nil, fmt.Errorf("metadata/dynamodb: get: %w: no record id", metadata.ErrInvalid)
	}
	items, err := s.queryPartition(ctx, id, "")
	if err != nil {
		return nil, s.fail(ctx, "get", id, err)
	}
	// Sort keys order the partition: chunk#0000… before rec.
	if len(items) == 0 || getS(items[len(items)-1], attrSK) != skMain || s.expired(items[len(items)-1]) {
		return nil, fmt.Errorf("metadata/dynamodb: get %s: %w", id, metadata.ErrNotFound)
	}
	r, err := decode(items[len(items)-1], items[:len(items)-1])
	if err != nil {
		return nil, fmt.Errorf("metadata/dynamodb: get: %w", err)
	}
	return r, nil
}

// queryPartition reads, strongly consistent and in sort key order, the
// items of record id whose sort key begins with skPrefix ("" for all).
func (s *Store) queryPartition(ctx context.Context, id, skPrefix string) ([]item, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk(id))},
	}
	if skPrefix != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND begins_with(#sk, :sk)")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":sk"] = str(skPrefix)
	}
	var items []item
	for p := dynamodb.NewQueryPaginator(s.client, in); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
	}
	return items, nil
}
