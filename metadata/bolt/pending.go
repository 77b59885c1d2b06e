package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/metadata"
)

// markerPendingIndex, in bucketMeta, says the pending index holds every
// pending record: set by the backfill of files written before the index.
var markerPendingIndex = []byte("pending_index_v1")

// Pending implements metadata.Store: it walks the pending index (id →
// repository) upwards from the cursor, oldest first, stopping at the id
// floor of q.OlderThan; the repository filter reads the index value, so
// only matching records are decoded. Put and Finish keep the index in
// their transaction; an entry whose record is no longer pending (left by
// a downgrade to a version without the index) is skipped.
func (s *Store) Pending(ctx context.Context, q metadata.PendingQuery) (metadata.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/bolt: pending: %w", err)
	}
	after, err := cursorKey(q.Cursor)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/bolt: pending: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/bolt: pending: %w", err)
	}
	ceiling := []byte(q.Ceiling())

	var page metadata.Page
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		k, repo := c.First()
		if after != nil {
			if k, repo = c.Seek(after); bytes.Equal(k, after) {
				k, repo = c.Next()
			}
		}
		for ; k != nil; k, repo = c.Next() {
			if len(ceiling) > 0 && bytes.Compare(k, ceiling) >= 0 {
				break
			}
			if q.Repository != "" && string(repo) != q.Repository {
				continue
			}
			r, err := load(tx, k)
			if err != nil {
				return err
			}
			if r.Status == metadata.StatusPending && !addToPage(&page, r, q.Limit) {
				break
			}
		}
		return nil
	})
	return page, wrap("pending", "", err)
}

// backfillPending enters every pending record in the pending index, once
// per file: files written before the index existed hold pending records
// it lacks. One pass over all records, in one transaction, then the
// marker; later opens only read the marker.
func backfillPending(db *bbolt.DB) error {
	done := false
	if err := db.View(func(tx *bbolt.Tx) error {
		done = tx.Bucket(bucketMeta).Get(markerPendingIndex) != nil
		return nil
	}); err != nil || done {
		return err
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		err := tx.Bucket(bucketRecords).ForEach(func(id, data []byte) error {
			var r struct {
				Repository string          `json:"repository"`
				Status     metadata.Status `json:"status"`
			}
			if err := json.Unmarshal(data, &r); err != nil {
				return fmt.Errorf("decoding record %s: %w", id, err)
			}
			if r.Status != metadata.StatusPending {
				return nil
			}
			return pending.Put(id, []byte(r.Repository))
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(markerPendingIndex, []byte{1})
	})
	if err != nil {
		return fmt.Errorf("indexing pending records: %w", err)
	}
	return nil
}
