package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Bounds of the wait for a new table: DescribeTable every pollMin at
// first, backing off to pollMax, for at most maxTableWait (or ctx's deadline).
const (
	pollMin      = 200 * time.Millisecond
	pollMax      = 5 * time.Second
	maxTableWait = 10 * time.Minute
)

// ensureTable creates the table unless it exists, waits until it and its
// indexes are active, checks it has every index, and enables TTL on
// attrExpires when the store has a retention.
func (s *Store) ensureTable(ctx context.Context) error {
	_, err := s.client.CreateTable(ctx, tableDefinition(s.table))
	if _, exists := errors.AsType[*types.ResourceInUseException](err); err != nil && !exists {
		return s.fail(ctx, "creating table", s.table, err)
	}
	desc, err := s.waitActive(ctx)
	if err != nil {
		return err
	}
	if err := checkIndexes(desc); err != nil {
		return fmt.Errorf("metadata/dynamodb: table %s exists with another layout: %w", s.table, err)
	}
	if s.retention > 0 {
		return s.enableTTL(ctx)
	}
	return nil
}

// tableDefinition is the table: pk/sk and four keys-only indexes sorted by
// record id (the digest index also carries the repository, to filter on
// it), billed per request.
func tableDefinition(table string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrID), AttributeType: types.ScalarAttributeTypeS},
		},
	}
	for _, ix := range indexes {
		in.AttributeDefinitions = append(in.AttributeDefinitions,
			types.AttributeDefinition{AttributeName: aws.String(ix.partitionKey), AttributeType: types.ScalarAttributeTypeS})
		projection := &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
		if ix.name == indexDigest {
			projection = &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{attrRepo}}
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ix.partitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrID), KeyType: types.KeyTypeRange},
			},
			Projection: projection,
		})
	}
	return in
}

// waitActive polls DescribeTable until the table and all its indexes are
// ACTIVE, and returns the last description.
func (s *Store) waitActive(ctx context.Context) (*types.TableDescription, error) {
	ctx, cancel := context.WithTimeout(ctx, maxTableWait)
	defer cancel()
	delay := pollMin
	for {
		out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
		if _, missing := errors.AsType[*types.ResourceNotFoundException](err); err != nil && !missing {
			return nil, s.fail(ctx, "waiting for table", s.table, err)
		}
		if err == nil && active(out.Table) {
			return out.Table, nil
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, s.fail(ctx, "waiting for table", s.table, err)
		}
		delay = min(delay*2, pollMax)
	}
}

// active reports whether the table and every index are ACTIVE.
func active(t *types.TableDescription) bool {
	if t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, ix := range t.GlobalSecondaryIndexes {
		if ix.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// checkIndexes reports the indexes t lacks.
func checkIndexes(t *types.TableDescription) error {
	var have []string
	for _, ix := range t.GlobalSecondaryIndexes {
		have = append(have, aws.ToString(ix.IndexName))
	}
	var missing []string
	for _, ix := range indexes {
		if !slices.Contains(have, ix.name) {
			missing = append(missing, ix.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("table %s lacks the indexes %v", aws.ToString(t.TableName), missing)
	}
	return nil
}

// enableTTL turns TTL on for attrExpires unless it already is.
func (s *Store) enableTTL(ctx context.Context) error {
	desc, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	if err != nil {
		return s.fail(ctx, "describing TTL of", s.table, err)
	}
	if d := desc.TimeToLiveDescription; d != nil {
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if aws.ToString(d.AttributeName) != attrExpires {
				return fmt.Errorf("metadata/dynamodb: table %s has TTL on %q, not %q", s.table, aws.ToString(d.AttributeName), attrExpires)
			}
			return nil
		}
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpires),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return s.fail(ctx, "enabling TTL on", s.table, err)
	}
	return nil
}
