package recorder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/internal/boltfile"
)

var bucketOps = []byte("ops")

// boltOutbox is the outbox of a single node, a bbolt file (fsynced on
// every enqueue). Keys are 8-byte big-endian sequence numbers.
type boltOutbox struct {
	db *bbolt.DB
}

func openBoltOutbox(path string) (*boltOutbox, error) {
	db, err := boltfile.Open(path, 5*time.Second, bucketOps)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &boltOutbox{db: db}, nil
}

// enqueue implements outbox.
func (b *boltOutbox) enqueue(_ context.Context, o op) error {
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("outbox: encoding: %w", err)
	}
	return b.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketOps)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		return bk.Put(seqKey(seq), data)
	})
}

// oldest implements outbox.
func (b *boltOutbox) oldest(_ context.Context, limit int) ([]queued, error) {
	var out []queued
	err := b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOps).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var o op
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("outbox entry %x: %w", k, err)
			}
			out = append(out, queued{key: string(k), op: o})
		}
		return nil
	})
	return out, err
}

// remove implements outbox.
func (b *boltOutbox) remove(_ context.Context, key string) error {
	return b.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketOps).Delete([]byte(key)) })
}

// len implements outbox.
func (b *boltOutbox) len(context.Context) (int, error) {
	n := 0
	err := b.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketOps).Stats().KeyN
		return nil
	})
	return n, err
}

func (b *boltOutbox) close() error { return b.db.Close() }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

var _ outbox = (*boltOutbox)(nil)
