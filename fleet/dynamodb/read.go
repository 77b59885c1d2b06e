package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/fleet"
)

// Get implements fleet.Store: one strongly consistent GetItem; an item
// past its expiry is fleet.ErrNotFound even before DynamoDB deletes it.
func (s *Store) Get(ctx context.Context, space, k string) (fleet.Item, error) {
	if err := fleet.CheckArgs(space, k, nil); err != nil {
		return fleet.Item{}, err
	}
	if err := ctx.Err(); err != nil {
		return fleet.Item{}, fmt.Errorf("fleet/dynamodb: get %s/%s: %w", space, k, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(space, k),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fleet.Item{}, fail(ctx, "get", space, k, err)
	}
	if out.Item == nil {
		return fleet.Item{}, fmt.Errorf("fleet/dynamodb: get %s/%s: %w", space, k, fleet.ErrNotFound)
	}
	it, live, err := decode(out.Item, s.now())
	if err != nil {
		return fleet.Item{}, fmt.Errorf("fleet/dynamodb: get %s/%s: %w", space, k, err)
	}
	if !live {
		return fleet.Item{}, fmt.Errorf("fleet/dynamodb: get %s/%s: %w (expired)", space, k, fleet.ErrNotFound)
	}
	return it, nil
}

// List implements fleet.Store: a strongly consistent Query of the space's
// partition from the sort key after on, filtered on expiry, following
// DynamoDB's pages (expired items and the 1 MB page limit make them short)
// until it has limit items or the partition ends.
func (s *Store) List(ctx context.Context, space, after string, limit int) ([]fleet.Item, error) {
	if err := fleet.CheckList(space, after); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fleet/dynamodb: list %s: %w", space, err)
	}
	limit = fleet.ListLimit(limit)
	now := s.now()
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#pk = :pk"),
		FilterExpression:         aws.String("attribute_not_exists(#exp) OR #exp > :now"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#exp": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pkPrefix + space), ":now": num(now.UnixMilli()),
		},
		Limit: aws.Int32(int32(limit)),
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk > :after")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":after"] = str(after)
	}
	var items []fleet.Item
	for len(items) < limit {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fail(ctx, "list", space, after, err)
		}
		for _, raw := range out.Items {
			it, live, err := decode(raw, now)
			if err != nil {
				return nil, fmt.Errorf("fleet/dynamodb: list %s: %w", space, err)
			}
			if live && len(items) < limit {
				items = append(items, it)
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return items, nil
}
