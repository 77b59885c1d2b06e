package dynamodb

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

// List implements metadata.Store. It queries one index newest first (by
// time without a filter; by digest, filtered on the repository when both
// are given; else by repository or by user), bounded below by the id floor
// of q.Since and above by the cursor, then reads the records themselves
// with strongly consistent batch reads.
//
// The cursor is the id of the page's last record, so a page ends exactly
// where the next begins, whatever DynamoDB's own page boundaries or filter
// were. Indexes are eventually consistent on AWS: a record Put a moment ago
// may be missing from List (never from Get) for a fraction of a second.
func (s *Store) List(ctx context.Context, q metadata.Query) (metadata.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/dynamodb: list: %w", err)
	}
	before, err := metadata.DecodeIDCursor(q.Cursor)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/dynamodb: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/dynamodb: list: %w", err)
	}
	in, ok := s.indexQuery(q, before)
	if !ok {
		return metadata.Page{}, nil // the cursor is already below q.Since
	}
	ids, more, err := s.queryIDs(ctx, in, q.Limit, before)
	if err != nil {
		return metadata.Page{}, s.fail(ctx, "list", "", err)
	}
	records, err := s.load(ctx, ids)
	if err != nil {
		return metadata.Page{}, s.fail(ctx, "list", "", err)
	}
	page := metadata.Page{Records: records}
	if more {
		page.Next = metadata.EncodeCursor([]byte(ids[len(ids)-1]))
	}
	return page, nil
}

// indexQuery builds the index Query for q below id before ("" for the
// first page); false when no record can match.
func (s *Store) indexQuery(q metadata.Query, before string) (*dynamodb.QueryInput, bool) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		ScanIndexForward:          aws.Bool(false), // newest first
		ExpressionAttributeNames:  map[string]string{},
		ExpressionAttributeValues: map[string]types.AttributeValue{},
	}
	set := func(index, attr, value string) {
		in.IndexName = aws.String(index)
		in.ExpressionAttributeNames["#part"] = attr
		in.ExpressionAttributeValues[":part"] = str(value)
	}
	switch {
	case q.Digest != "":
		set(indexDigest, attrDigest, q.Digest.String())
		if q.Repository != "" {
			in.FilterExpression = aws.String("#repo = :repo")
			in.ExpressionAttributeNames["#repo"] = attrRepo
			in.ExpressionAttributeValues[":repo"] = str(q.Repository)
		}
	case q.Repository != "":
		set(indexRepo, attrRepo, q.Repository)
	case q.User != "":
		set(indexUser, attrUser, q.User)
	default:
		set(indexAll, attrAll, allPartition)
	}

	floor := ""
	if !q.Since.IsZero() {
		floor = metadata.IDFloor(q.Since)
	}
	cond := "#part = :part"
	switch {
	case floor != "" && before != "":
		if before <= floor {
			return nil, false
		}
		// BETWEEN is inclusive: queryIDs drops the cursor's own record.
		cond += " AND #id BETWEEN :floor AND :before"
		in.ExpressionAttributeValues[":floor"] = str(floor)
		in.ExpressionAttributeValues[":before"] = str(before)
	case floor != "":
		cond += " AND #id >= :floor"
		in.ExpressionAttributeValues[":floor"] = str(floor)
	case before != "":
		cond += " AND #id < :before"
		in.ExpressionAttributeValues[":before"] = str(before)
	}
	if cond != "#part = :part" {
		in.ExpressionAttributeNames["#id"] = attrID
	}
	in.KeyConditionExpression = aws.String(cond)
	return in, true
}

// queryIDs runs in, following DynamoDB's pages, until it has limit ids
// (other than those in skip: bounds of an inclusive BETWEEN) and knows
// whether more follow.
func (s *Store) queryIDs(ctx context.Context, in *dynamodb.QueryInput, limit int, skip ...string) (ids []string, more bool, err error) {
	in.Limit = aws.Int32(int32(limit + 1))
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, false, err
		}
		for _, it := range out.Items {
			id := getS(it, attrID)
			if slices.Contains(skip, id) {
				continue
			}
			if len(ids) == limit {
				return ids, true, nil
			}
			ids = append(ids, id)
		}
		if out.LastEvaluatedKey == nil {
			return ids, false, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
