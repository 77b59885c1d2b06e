package dynamodb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

// TestPendingIndexSparse: only a pending record's main item carries the
// pending index key; Finish removes it (with or without a reason), so the
// index holds pending records only.
func TestPendingIndexSparse(t *testing.T) {
	s := newTestStore(t, Config{})
	ctx := t.Context()
	now := time.Now()
	pending, accepted := testRecord("sparse/a", now), testRecord("sparse/a", now)
	pending.Status = metadata.StatusPending
	failed, done := testRecord("sparse/a", now), testRecord("sparse/a", now)
	failed.Status, done.Status = metadata.StatusPending, metadata.StatusPending
	for _, r := range []*metadata.Record{pending, accepted, failed, done} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, failed.ID, metadata.Finish{Status: metadata.StatusFailed, Reason: "disk full", CommittedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, done.ID, metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: now}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		r    *metadata.Record
		want bool
	}{{pending, true}, {accepted, false}, {failed, false}, {done, false}}
	for _, tc := range tests {
		items := rawItems(t, s, tc.r.ID)
		if _, has := items[len(items)-1][attrPending]; has != tc.want {
			t.Errorf("record %s (%s): %s present %v, want %v", tc.r.ID, tc.r.Status, attrPending, has, tc.want)
		}
	}
}

// oldTable creates, with the client of s, the table an older version
// made (every index but indexPending) and deletes it when the test ends.
func oldTable(t *testing.T, s *Store) {
	t.Helper()
	def := tableDefinition(s.table)
	var kept []types.GlobalSecondaryIndex
	for _, ix := range def.GlobalSecondaryIndexes {
		if aws.ToString(ix.IndexName) != indexPending {
			kept = append(kept, ix)
		}
	}
	def.GlobalSecondaryIndexes = kept
	var attrs []types.AttributeDefinition
	for _, a := range def.AttributeDefinitions {
		if aws.ToString(a.AttributeName) != attrPending {
			attrs = append(attrs, a)
		}
	}
	def.AttributeDefinitions = attrs
	if _, err := s.client.CreateTable(t.Context(), def); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.table)}); err != nil {
			t.Errorf("deleting table %s: %v", s.table, err)
		}
	})
	if _, err := s.waitActive(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestPendingIndexAdded: on a table made before the pending index, a
// store without CreateTable says in Ping that the index is missing and how
// to add it; New with CreateTable adds it, after which Ping passes and
// Pending lists pending records put from then on.
func TestPendingIndexAdded(t *testing.T) {
	ctx := t.Context()
	c := Config{Endpoint: testEndpoint(t), Table: "imagegate-test-old-layout-" + metadata.NewID()[24:]}
	plain, err := New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	oldTable(t, plain)

	err = plain.Ping(ctx)
	if !errors.Is(err, metadata.ErrUnavailable) || !strings.Contains(err.Error(), "["+indexPending+"]") || !strings.Contains(err.Error(), "createtable") {
		t.Fatalf("Ping of a table without the pending index: got %v", err)
	}

	c.CreateTable = true
	s, err := New(ctx, c)
	if err != nil {
		t.Fatalf("New with CreateTable on the old table: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the index was added: %v", err)
	}
	r := testRecord("migrated/app", time.Now())
	r.Status = metadata.StatusPending
	if err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	page, err := s.Pending(ctx, metadata.PendingQuery{Repository: "migrated/app"})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != r.ID {
		t.Fatalf("Pending on the migrated table: %d records, %v", len(page.Records), err)
	}
	// A second start finds the table complete and changes nothing.
	if _, err := New(ctx, c); err != nil {
		t.Fatalf("New again: %v", err)
	}
}
