package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/fleet"
)

// Put implements fleet.Store: one PutItem of the whole item, on the
// condition that the stored one is absent or expired (expect 0), or live
// with version expect. When the condition fails and the stored item
// carries the version this Put chose, the write is this Put's own (the
// SDK retried a request whose answer was lost) and Put succeeds.
func (s *Store) Put(ctx context.Context, space, k string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	if err := fleet.CheckArgs(space, k, value); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fleet/dynamodb: put %s/%s: %w", space, k, err)
	}
	now := s.now()
	var expires time.Time
	if ttl > 0 {
		expires = now.Add(ttl)
	}
	version := newVersion(expect)
	in := &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                encode(space, k, value, version, expires),
		ExpressionAttributeNames:            map[string]string{"#exp": attrExpires},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.UnixMilli())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if expect == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk) OR #exp <= :now")
		in.ExpressionAttributeNames["#pk"] = attrPK
	} else {
		in.ConditionExpression = aws.String("#ver = :expect AND (attribute_not_exists(#exp) OR #exp > :now)")
		in.ExpressionAttributeNames["#ver"] = attrVersion
		in.ExpressionAttributeValues[":expect"] = num(expect)
	}
	_, err := s.client.PutItem(ctx, in)
	if ccf, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		if v, vErr := getN(ccf.Item, attrVersion); vErr == nil && v == version {
			return version, nil
		}
	}
	if err != nil {
		return 0, fail(ctx, "put", space, k, err)
	}
	return version, nil
}

// Delete implements fleet.Store: one DeleteItem on the condition that the
// stored item is absent, expired or of version expect.
func (s *Store) Delete(ctx context.Context, space, k string, expect int64) error {
	if err := fleet.CheckArgs(space, k, nil); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fleet/dynamodb: delete %s/%s: %w", space, k, err)
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(space, k),
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #exp <= :now OR #ver = :expect"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#exp": attrExpires, "#ver": attrVersion,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(s.now().UnixMilli()), ":expect": num(expect),
		},
	})
	if err != nil {
		return fail(ctx, "delete", space, k, err)
	}
	return nil
}
