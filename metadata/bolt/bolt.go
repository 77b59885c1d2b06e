// Package bolt is the embedded metadata store: one bbolt file, no server.
// It is imagegate's default, so that `imagegate serve` needs nothing else.
package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/internal/boltfile"
	"github.com/imagegate/imagegate/metadata"
)

var (
	bucketRecords = []byte("records")   // id → record JSON
	bucketRepo    = []byte("by_repo")   // repository \x00 id → nil
	bucketUser    = []byte("by_user")   // subject \x00 id → nil
	bucketDigest  = []byte("by_digest") // digest \x00 id → nil
	bucketPending = []byte("pending")   // id → repository, while the record is pending
	bucketMeta    = []byte("meta")      // the store's own markers (migrations done)
	allBuckets    = [][]byte{bucketRecords, bucketRepo, bucketUser, bucketDigest, bucketPending, bucketMeta}
)

// Store is a metadata.Store in a bbolt file. Concurrent Puts are batched
// into shared transactions (one fsync for many records).
type Store struct {
	db *bbolt.DB
}

// Open opens (creating if needed) the store file at path. The file is
// locked: a second process opening it waits up to lockWait, then fails.
func Open(path string, lockWait time.Duration) (*Store, error) {
	db, err := boltfile.Open(path, lockWait, allBuckets...)
	if err != nil {
		return nil, fmt.Errorf("metadata/bolt: %w", err)
	}
	if err := backfillPending(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("metadata/bolt: %s: %w", path, err)
	}
	// Batch coalesces concurrent writers into one fsync; its default wait
	// (10 ms) for company would dominate a lone push's latency.
	db.MaxBatchDelay = batchDelay
	return &Store{db: db}, nil
}

// batchDelay is how long a write waits for others to share its fsync.
const batchDelay = 200 * time.Microsecond

// Put implements metadata.Store; a pending record enters the pending
// index in the same transaction.
func (s *Store) Put(ctx context.Context, r *metadata.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("metadata/bolt: encoding record %s: %w", r.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/bolt: put %s: %w", r.ID, err)
	}
	id := []byte(r.ID)
	err = s.db.Batch(func(tx *bbolt.Tx) error {
		records := tx.Bucket(bucketRecords)
		if old := records.Get(id); old != nil {
			if bytes.Equal(old, data) {
				return nil // a retry of a stored record
			}
			return fmt.Errorf("%w: %s exists with other content", metadata.ErrConflict, r.ID)
		}
		if err := records.Put(id, data); err != nil {
			return err
		}
		for _, e := range indexEntries(r) {
			if err := tx.Bucket(e.bucket).Put(e.key, nil); err != nil {
				return err
			}
		}
		if r.Status == metadata.StatusPending {
			return tx.Bucket(bucketPending).Put(id, []byte(r.Repository))
		}
		return nil
	})
	return wrap("put", r.ID, err)
}

// indexEntry is one key of one index bucket.
type indexEntry struct{ bucket, key []byte }

// indexEntries lists the index keys of r: by repository, by user (when
// known) and by digest (when set).
func indexEntries(r *metadata.Record) []indexEntry {
	entries := []indexEntry{{bucketRepo, indexKey(r.Repository, r.ID)}}
	if r.User.Subject != "" {
		entries = append(entries, indexEntry{bucketUser, indexKey(r.User.Subject, r.ID)})
	}
	if r.Digest != "" {
		entries = append(entries, indexEntry{bucketDigest, indexKey(r.Digest.String(), r.ID)})
	}
	return entries
}

// indexKey is value \x00 id: entries of one value are contiguous and
// sorted by id, that is by time.
func indexKey(value, id string) []byte {
	return append(append([]byte(value), 0), id...)
}

// Finish implements metadata.Store, and takes the record out of the
// pending index in the same transaction. f.Status must be final.
func (s *Store) Finish(ctx context.Context, id string, f metadata.Finish) error {
	if f.Status == "" || f.Status == metadata.StatusPending {
		return fmt.Errorf("metadata/bolt: finish %s: %w: %q is not a final status", id, metadata.ErrInvalid, f.Status)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/bolt: finish %s: %w", id, err)
	}
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		records := tx.Bucket(bucketRecords)
		data := records.Get([]byte(id))
		if data == nil {
			return fmt.Errorf("%w: %s", metadata.ErrNotFound, id)
		}
		var r metadata.Record
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("decoding record %s: %w", id, err)
		}
		if r.Status != metadata.StatusPending {
			if r.Status == f.Status && r.Reason == f.Reason && r.CommittedAt != nil && r.CommittedAt.Equal(f.CommittedAt) {
				return nil // a retry
			}
			return fmt.Errorf("%w: %s is already %s", metadata.ErrConflict, id, r.Status)
		}
		at := f.CommittedAt
		r.Status, r.Reason, r.CommittedAt = f.Status, f.Reason, &at
		out, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketPending).Delete([]byte(id)); err != nil {
			return err
		}
		return records.Put([]byte(id), out)
	})
	return wrap("finish", id, err)
}

// Get implements metadata.Store.
func (s *Store) Get(ctx context.Context, id string) (*metadata.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metadata/bolt: get %s: %w", id, err)
	}
	var r *metadata.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		r, err = load(tx, []byte(id))
		return err
	})
	return r, wrap("get", id, err)
}

// Ping implements metadata.Store: the file is open and readable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return wrap("ping", "", s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketRecords) == nil {
			return errors.New("records bucket missing")
		}
		return nil
	}))
}

// Close implements metadata.Store.
func (s *Store) Close() error { return s.db.Close() }

// load reads and decodes record id; ErrNotFound when absent.
func load(tx *bbolt.Tx, id []byte) (*metadata.Record, error) {
	data := tx.Bucket(bucketRecords).Get(id)
	if data == nil {
		return nil, fmt.Errorf("%w: %s", metadata.ErrNotFound, id)
	}
	var r metadata.Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decoding record %s: %w", id, err)
	}
	return &r, nil
}

// wrap adds context to err and marks bbolt's own failures unavailable;
// the metadata sentinel errors pass through recognisable.
func wrap(op, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, metadata.ErrNotFound), errors.Is(err, metadata.ErrConflict), errors.Is(err, metadata.ErrInvalid):
		return fmt.Errorf("metadata/bolt: %s %s: %w", op, id, err)
	}
	return fmt.Errorf("metadata/bolt: %s %s: %w", op, id, errors.Join(metadata.ErrUnavailable, err))
}

var _ metadata.Store = (*Store)(nil)
