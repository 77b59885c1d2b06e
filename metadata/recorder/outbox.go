package recorder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/internal/boltfile"
	"github.com/imagegate/imagegate/metadata"
)

// op is one store write waiting in the outbox.
type op struct {
	// Put is a record to store; exclusive with FinishID.
	Put *metadata.Record `json:"put,omitempty"`
	// FinishID and Finish finish a pending record.
	FinishID string           `json:"finish_id,omitempty"`
	Finish   *metadata.Finish `json:"finish,omitempty"`
}

func (o op) apply(ctx context.Context, s metadata.Store) error {
	if o.Put != nil {
		return s.Put(ctx, o.Put)
	}
	return s.Finish(ctx, o.FinishID, *o.Finish)
}

var bucketOps = []byte("ops")

// outbox is a durable FIFO of store writes in a bbolt file: an op enqueued
// survives a crash or restart until replay applies it.
type outbox struct {
	db *bbolt.DB
}

func openOutbox(path string) (*outbox, error) {
	db, err := boltfile.Open(path, 5*time.Second, bucketOps)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &outbox{db: db}, nil
}

// enqueue appends o durably (fsynced before it returns).
func (b *outbox) enqueue(o op) error {
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

// peek returns the oldest op and its key, or ok=false when empty.
func (b *outbox) peek() (key []byte, o op, ok bool, err error) {
	err = b.db.View(func(tx *bbolt.Tx) error {
		k, v := tx.Bucket(bucketOps).Cursor().First()
		if k == nil {
			return nil
		}
		ok, key = true, append([]byte(nil), k...)
		return json.Unmarshal(v, &o)
	})
	return key, o, ok, err
}

// remove deletes the op at key once it has been applied.
func (b *outbox) remove(key []byte) error {
	return b.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketOps).Delete(key) })
}

// len counts the waiting ops.
func (b *outbox) len() (int, error) {
	n := 0
	err := b.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketOps).Stats().KeyN
		return nil
	})
	return n, err
}

func (b *outbox) close() error { return b.db.Close() }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}
