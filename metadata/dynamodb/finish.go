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

// Finish implements metadata.Store with one conditional UpdateItem of the
// main item's status, reason and commit time (the body, maybe chunked, is
// not rewritten: Get overlays these attributes on it) that also removes
// attrPending, taking the record out of indexPending. The condition is
// that the record exists and is pending. When it fails, Finish reads those
// attributes back: missing record → metadata.ErrNotFound; already finished
// with the same status, reason and time → nil (a retry); otherwise
// metadata.ErrConflict. f.Status must be a final status (not pending).
func (s *Store) Finish(ctx context.Context, id string, f metadata.Finish) error {
	switch {
	case id == "":
		return fmt.Errorf("metadata/dynamodb: finish: %w: no record id", metadata.ErrInvalid)
	case f.Status == "" || f.Status == metadata.StatusPending:
		return fmt.Errorf("metadata/dynamodb: finish %s: %w: %q is not a final status", id, metadata.ErrInvalid, f.Status)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/dynamodb: finish %s: %w", id, err)
	}
	at := f.CommittedAt.Format(time.RFC3339Nano)
	update := "SET #status = :status, #committed = :committed"
	values := map[string]types.AttributeValue{
		":status":    str(string(f.Status)),
		":committed": str(at),
		":pending":   str(string(metadata.StatusPending)),
	}
	remove := " REMOVE #pending"
	if f.Reason != "" {
		update += ", #reason = :reason"
		values[":reason"] = str(f.Reason)
	} else {
		remove += ", #reason"
	}
	update += remove
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 mainKey(id),
		UpdateExpression:    aws.String(update),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #status = :pending"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#status": attrStatus, "#committed": attrCommitted, "#reason": attrReason,
			"#pending": attrPending,
		},
		ExpressionAttributeValues: values,
	})
	if _, failed := errors.AsType[*types.ConditionalCheckFailedException](err); failed {
		err = s.compareFinished(ctx, id, f)
	}
	if err != nil {
		return s.fail(ctx, "finish", id, err)
	}
	return nil
}

// compareFinished decides a Finish whose condition failed.
func (s *Store) compareFinished(ctx context.Context, id string, f metadata.Finish) error {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      mainKey(id),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#status, #reason, #committed"),
		ExpressionAttributeNames: map[string]string{"#status": attrStatus, "#reason": attrReason, "#committed": attrCommitted},
	})
	if err != nil {
		return err
	}
	if out.Item == nil {
		return fmt.Errorf("%w: %s", metadata.ErrNotFound, id)
	}
	status := metadata.Status(getS(out.Item, attrStatus))
	committed, err := time.Parse(time.RFC3339Nano, getS(out.Item, attrCommitted))
	if status == f.Status && getS(out.Item, attrReason) == f.Reason && err == nil && committed.Equal(f.CommittedAt) {
		return nil // a retry
	}
	return fmt.Errorf("%w: %s is already %s", metadata.ErrConflict, id, status)
}
