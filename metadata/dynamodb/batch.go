package dynamodb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/imagegate/imagegate/metadata"
)

const (
	// maxBatchGet is BatchGetItem's limit of keys per call.
	maxBatchGet = 100
	// maxUnprocessedRounds bounds the re-requests of keys DynamoDB left
	// unprocessed (throttling, or the 16 MB response limit).
	maxUnprocessedRounds = 10
)

// load reads records ids, in that order, with strongly consistent reads:
// main items by BatchGetItem, then the chunks of chunked ones. Records
// past their retention, and ids whose main item is gone (deleted by TTL
// while the index still had them), are left out.
func (s *Store) load(ctx context.Context, ids []string) ([]*metadata.Record, error) {
	mains := make(map[string]item, len(ids))
	for start := 0; start < len(ids); start += maxBatchGet {
		if err := s.batchGet(ctx, ids[start:min(start+maxBatchGet, len(ids))], mains); err != nil {
			return nil, err
		}
	}
	records := make([]*metadata.Record, 0, len(ids))
	for _, id := range ids {
		main, ok := mains[id]
		if !ok || s.expired(main) {
			continue
		}
		var chunks []item
		if _, chunked := main[attrChunks]; chunked {
			var err error
			if chunks, err = s.queryPartition(ctx, id, skChunkPrefix); err != nil {
				return nil, err
			}
		}
		r, err := decode(main, chunks)
		if err != nil {
			return nil, err
		}
		records = append(records, r)
	}
	return records, nil
}

// batchGet adds the main items of ids (at most maxBatchGet) to into,
// keyed by id, re-requesting unprocessed keys with backoff.
func (s *Store) batchGet(ctx context.Context, ids []string, into map[string]item) error {
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = mainKey(id)
	}
	request := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	delay := 50 * time.Millisecond
	for round := 0; ; round++ {
		out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return err
		}
		for _, it := range out.Responses[s.table] {
			into[getS(it, attrID)] = it
		}
		left, ok := out.UnprocessedKeys[s.table]
		if !ok || len(left.Keys) == 0 {
			return nil
		}
		if round == maxUnprocessedRounds {
			return fmt.Errorf("%w: %d keys still unprocessed after %d rounds", metadata.ErrUnavailable, len(left.Keys), round+1)
		}
		request = map[string]types.KeysAndAttributes{s.table: left}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, time.Second)
	}
}
