package bolt

import (
	"bytes"
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/metadata"
)

// List implements metadata.Store: it walks one index (or all records)
// backwards from the cursor, newest first.
func (s *Store) List(ctx context.Context, q metadata.Query) (metadata.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return metadata.Page{}, err
	}
	after, err := cursorKey(q.Cursor)
	if err != nil {
		return metadata.Page{}, err
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/bolt: list: %w", err)
	}

	bucket, prefix := bucketRecords, []byte(nil)
	filter := func(*metadata.Record) bool { return true }
	switch {
	case q.Digest != "":
		bucket, prefix = bucketDigest, indexKey(q.Digest.String(), "")
		if q.Repository != "" {
			filter = func(r *metadata.Record) bool { return r.Repository == q.Repository }
		}
	case q.Repository != "":
		bucket, prefix = bucketRepo, indexKey(q.Repository, "")
	case q.User != "":
		bucket, prefix = bucketUser, indexKey(q.User, "")
	}
	floor := ""
	if !q.Since.IsZero() {
		floor = metadata.IDFloor(q.Since)
	}

	var page metadata.Page
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k := seekBelow(c, prefix, after); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			id := k[len(prefix):]
			if string(id) < floor {
				break
			}
			r, err := load(tx, id)
			if err != nil {
				return err
			}
			if filter(r) && !addToPage(&page, r, q.Limit) {
				break
			}
		}
		return nil
	})
	return page, wrap("list", "", err)
}

// cursorKey is the record id in cursor as a key; nil for no cursor.
func cursorKey(cursor string) ([]byte, error) {
	id, err := metadata.DecodeIDCursor(cursor)
	if err != nil || id == "" {
		return nil, err
	}
	return []byte(id), nil
}

// addToPage adds r to page unless page already holds limit records: then
// it sets page.Next to continue after them and returns false (stop).
func addToPage(page *metadata.Page, r *metadata.Record, limit int) bool {
	if len(page.Records) == limit {
		page.Next = metadata.EncodeCursor([]byte(page.Records[limit-1].ID))
		return false
	}
	page.Records = append(page.Records, r)
	return true
}

// seekBelow positions c on the last key with prefix that sorts before
// prefix+after (or on the last key with prefix when after is nil) and
// returns it; the caller checks the prefix.
func seekBelow(c *bbolt.Cursor, prefix, after []byte) []byte {
	bound := append(bytes.Clone(prefix), after...)
	if after == nil {
		bound = append(bound, 0xff)
	}
	k, _ := c.Seek(bound)
	if k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ = c.Prev()
	return k
}
