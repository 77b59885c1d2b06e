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

// transactConflictRetries bounds the retries of a chunked Put whose
// transaction collided with another on the same record (the SDK does not
// retry TransactionCanceledException).
const transactConflictRetries = 4

// notExists is the condition of a first write of a record.
const notExists = "attribute_not_exists(#pk)"

// Put implements metadata.Store. The main item is written only if absent
// (with its chunks in the same transaction when the record is chunked), so
// a retried Put, by the SDK or the caller, never duplicates: when the
// record exists, Put compares the stored checksum of the content first
// Put with r's and returns nil when equal, metadata.ErrConflict when not.
// A Put retried after Finish therefore still succeeds.
func (s *Store) Put(ctx context.Context, r *metadata.Record) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("metadata/dynamodb: put: %w", err)
	}
	e, err := s.encode(r)
	if err != nil {
		return fmt.Errorf("metadata/dynamodb: put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/dynamodb: put %s: %w", r.ID, err)
	}
	if len(e.chunks) == 0 {
		err = s.putItem(ctx, e)
	} else {
		err = s.putChunked(ctx, e)
	}
	if err != nil {
		return s.fail(ctx, "put", r.ID, err)
	}
	return nil
}

// putItem writes a record that fits in its main item.
func (s *Store) putItem(ctx context.Context, e *encoded) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     e.main,
		ConditionExpression:      aws.String(notExists),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if _, exists := errors.AsType[*types.ConditionalCheckFailedException](err); exists {
		return s.compareStored(ctx, e)
	}
	return err
}

// putChunked writes the main item and its chunks in one transaction, so
// that readers see all of the record or none of it.
func (s *Store) putChunked(ctx context.Context, e *encoded) error {
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:                aws.String(s.table),
		Item:                     e.main,
		ConditionExpression:      aws.String(notExists),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	}}}
	for _, c := range e.chunks {
		// No condition of their own: the main item's guards them all.
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: c}})
	}
	for attempt := 0; ; attempt++ {
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		canceled, ok := errors.AsType[*types.TransactionCanceledException](err)
		if !ok {
			return err
		}
		reasons := canceled.CancellationReasons
		if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
			return s.compareStored(ctx, e)
		}
		if !hasReason(reasons, "TransactionConflict") || attempt == transactConflictRetries {
			return err
		}
		if err := sleep(ctx, (25*time.Millisecond)<<attempt); err != nil {
			return err
		}
	}
}

// hasReason reports whether one of a cancelled transaction's reasons has code.
func hasReason(reasons []types.CancellationReason, code string) bool {
	for _, r := range reasons {
		if aws.ToString(r.Code) == code {
			return true
		}
	}
	return false
}

// compareStored decides a Put that found its record already stored:
// nil when the stored checksum is e's, metadata.ErrConflict otherwise.
func (s *Store) compareStored(ctx context.Context, e *encoded) error {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      mainKey(e.id),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#sum"),
		ExpressionAttributeNames: map[string]string{"#sum": attrSum},
	})
	switch {
	case err != nil:
		return err
	case out.Item == nil:
		// Expired (TTL) between the conditional write and this read.
		return fmt.Errorf("%w: record %s vanished while being compared; retry", metadata.ErrUnavailable, e.id)
	case getS(out.Item, attrSum) == e.sum:
		return nil // a retry of a stored record
	}
	return fmt.Errorf("%w: %s exists with other content", metadata.ErrConflict, e.id)
}
