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
// indexes are active, adds the indexes an existing table lacks (one made
// by an older version), checks it has every index, and enables TTL on
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
	if desc, err = s.addMissingIndexes(ctx, desc); err != nil {
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

// tableDefinition is the table: pk/sk and the indexes of indexes (see
// indexDefinition), billed per request.
func tableDefinition(table string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		AttributeDefinitions: []types.AttributeDefinition{
			stringAttribute(attrPK), stringAttribute(attrSK), stringAttribute(attrID),
		},
	}
	for _, ix := range indexes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, stringAttribute(ix.partitionKey))
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, indexDefinition(ix.name, ix.partitionKey))
	}
	return in
}

// indexDefinition is index name: partition key partitionKey, sorted by
// record id, keys only (the digest and pending indexes also carry the
// repository, to filter on it).
func indexDefinition(name, partitionKey string) types.GlobalSecondaryIndex {
	projection := &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	if name == indexDigest || name == indexPending {
		projection = &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{attrRepo}}
	}
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(partitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrID), KeyType: types.KeyTypeRange},
		},
		Projection: projection,
	}
}

// stringAttribute declares attribute name a string key attribute.
func stringAttribute(name string) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
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

// checkIndexes reports the indexes t lacks, and how to add them.
func checkIndexes(t *types.TableDescription) error {
	if missing := missingIndexes(t); len(missing) > 0 {
		return fmt.Errorf("table %s lacks the indexes %v: start once with metadata.dynamodb.createtable on to add them, "+
			"or add them yourself (docs/metadata-dynamodb.md)", aws.ToString(t.TableName), missing)
	}
	return nil
}

// missingIndexes lists the names of the indexes t lacks (one being
// created is not missing).
func missingIndexes(t *types.TableDescription) []string {
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
	return missing
}

// enableTTL turns TTL on for attrExpires unless it already is. When
// another process (a replica starting at the same time, or the fleet
// store of this one) enabled it between the check and the update, the
// update fails and a second check finds it on.
func (s *Store) enableTTL(ctx context.Context) error {
	on, err := s.ttlEnabled(ctx)
	if err != nil || on {
		return err
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpires),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		if on, again := s.ttlEnabled(ctx); again == nil && on {
			return nil
		}
		return s.fail(ctx, "enabling TTL on", s.table, err)
	}
	return nil
}

// ttlEnabled reports whether TTL is on (or being turned on) for
// attrExpires; TTL on another attribute is an error.
func (s *Store) ttlEnabled(ctx context.Context) (bool, error) {
	desc, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	if err != nil {
		return false, s.fail(ctx, "describing TTL of", s.table, err)
	}
	if d := desc.TimeToLiveDescription; d != nil {
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if aws.ToString(d.AttributeName) != attrExpires {
				return false, fmt.Errorf("metadata/dynamodb: table %s has TTL on %q, not %q", s.table, aws.ToString(d.AttributeName), attrExpires)
			}
			return true, nil
		}
	}
	return false, nil
}
