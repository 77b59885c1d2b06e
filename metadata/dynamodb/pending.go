package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

// Pending implements metadata.Store. It queries the sparse indexPending
// (only pending records carry its key) oldest first, above the cursor and
// below the id floor of q.OlderThan, filtered on the projected repository
// when q.Repository is set, then reads the records with strongly
// consistent batch reads and keeps those still pending.
//
// The index is eventually consistent on AWS: a record finished a moment
// ago may still be in it (it is dropped, so a page may hold fewer than
// Limit records; its cursor is still right), and one put a moment ago may
// be missing from it for a fraction of a second — nothing a sweeper with
// a grace period notices.
func (s *Store) Pending(ctx context.Context, q metadata.PendingQuery) (metadata.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/dynamodb: pending: %w", err)
	}
	after, err := metadata.DecodeIDCursor(q.Cursor)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/dynamodb: pending: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/dynamodb: pending: %w", err)
	}
	ceiling := q.Ceiling()
	if ceiling != "" && after != "" && after >= ceiling {
		return metadata.Page{}, nil // the cursor is already past q.OlderThan
	}
	ids, more, err := s.queryIDs(ctx, pendingQuery(s.table, q.Repository, after, ceiling), q.Limit, after, ceiling)
	if err != nil {
		return metadata.Page{}, s.fail(ctx, "pending", "", err)
	}
	records, err := s.load(ctx, ids)
	if err != nil {
		return metadata.Page{}, s.fail(ctx, "pending", "", err)
	}
	page := metadata.Page{Records: records[:0]}
	for _, r := range records {
		if r.Status == metadata.StatusPending {
			page.Records = append(page.Records, r)
		}
	}
	if more {
		page.Next = metadata.EncodeCursor([]byte(ids[len(ids)-1]))
	}
	return page, nil
}

// pendingQuery builds the Query of indexPending, ascending, for ids above
// after and below ceiling ("" for no bound). BETWEEN is inclusive: the
// caller drops after and ceiling themselves.
func pendingQuery(table, repository, after, ceiling string) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(indexPending),
		ScanIndexForward:          aws.Bool(true), // oldest first
		ExpressionAttributeNames:  map[string]string{"#part": attrPending},
		ExpressionAttributeValues: map[string]types.AttributeValue{":part": str(pendingPartition)},
	}
	cond := "#part = :part"
	switch {
	case after != "" && ceiling != "":
		cond += " AND #id BETWEEN :after AND :ceiling"
	case after != "":
		cond += " AND #id > :after"
	case ceiling != "":
		cond += " AND #id < :ceiling"
	}
	if after != "" {
		in.ExpressionAttributeValues[":after"] = str(after)
	}
	if ceiling != "" {
		in.ExpressionAttributeValues[":ceiling"] = str(ceiling)
	}
	if after != "" || ceiling != "" {
		in.ExpressionAttributeNames["#id"] = attrID
	}
	in.KeyConditionExpression = aws.String(cond)
	if repository != "" {
		in.FilterExpression = aws.String("#repo = :repo")
		in.ExpressionAttributeNames["#repo"] = attrRepo
		in.ExpressionAttributeValues[":repo"] = str(repository)
	}
	return in
}
