// Package boltfile opens the bbolt files imagegate keeps on local disk (the
// embedded metadata store and the outboxes of the recorder and the
// notifier) the same way: directory created private, file mode 0600, the
// file lock awaited for a bounded time, buckets created.
package boltfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Open opens (creating if needed) the bbolt file at path with its buckets.
// The file is locked: when another process holds it, Open waits up to
// lockWait, then fails saying so. Errors name path, not the caller: wrap
// them with what the file is for.
func Open(path string, lockWait time.Duration, buckets ...[]byte) (*bbolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockWait})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("%s is locked by another process", path)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the buckets of %s: %w", path, err)
	}
	return db, nil
}
