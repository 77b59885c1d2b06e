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
	var after []byte
	if q.Cursor != "" {
		if after, err = metadata.DecodeCursor(q.Cursor); err != nil {
			return metadata.Page{}, err
		}
		if !validID(after) {
			return metadata.Page{}, fmt.Errorf("%w: cursor names no record", metadata.ErrInvalid)
		}
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
			if !filter(r) {
				continue
			}
			if len(page.Records) == q.Limit {
				page.Next = metadata.EncodeCursor([]byte(page.Records[q.Limit-1].ID))
				break
			}
			page.Records = append(page.Records, r)
		}
		return nil
	})
	return page, wrap("list", "", err)
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
