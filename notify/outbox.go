package notify

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// delivery is one event waiting to reach one endpoint.
type delivery struct {
	Endpoint string          `json:"endpoint"`
	EventID  string          `json:"event_id"`
	Type     Type            `json:"type"`
	Body     json.RawMessage `json:"body"`
	Enqueued time.Time       `json:"enqueued"`
	// Attempts made so far; Next is when the next may start.
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next"`
	LastError string    `json:"last_error,omitempty"`
}

var (
	bucketPending = []byte("pending")
	bucketDead    = []byte("dead")
)

// maxDead bounds the dead letters kept for inspection; the oldest go first.
const maxDead = 10000

// outbox is the durable queue of deliveries, a bbolt file: a delivery
// enqueued survives a crash or restart until it succeeds or is given up.
type outbox struct {
	db *bbolt.DB
}

func openOutbox(path string) (*outbox, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("notify: creating directory of outbox %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("notify: opening outbox %s: %w", path, err)
	}
	db.MaxBatchDelay = 200 * time.Microsecond
	if err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketDead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("notify: preparing outbox %s: %w", path, err)
	}
	return &outbox{db: db}, nil
}

// enqueue stores ds durably (fsynced before it returns). Concurrent
// callers share one transaction (bbolt's Batch).
func (b *outbox) enqueue(ds []delivery) error {
	vals := make([][]byte, len(ds))
	for i, d := range ds {
		v, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("notify: encoding delivery: %w", err)
		}
		vals[i] = v
	}
	err := b.db.Batch(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketPending)
		for _, v := range vals {
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			if err := bk.Put(seqKey(seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: writing outbox: %w", err)
	}
	return nil
}

// each calls fn with every pending delivery, oldest first, until fn
// returns false. The key is a copy fn may keep.
func (b *outbox) each(fn func(key string, d delivery) bool) error {
	return b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var d delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("notify: outbox entry %x: %w", k, err)
			}
			if !fn(string(k), d) {
				return nil
			}
		}
		return nil
	})
}

// update rewrites the pending delivery at key (after a failed attempt).
func (b *outbox) update(key string, d delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return b.db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPending).Put([]byte(key), v) })
}

// remove deletes the delivery at key once it has succeeded.
func (b *outbox) remove(key string) error {
	return b.db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPending).Delete([]byte(key)) })
}

// bury moves the delivery at key to the dead letters (given up).
func (b *outbox) bury(key string, d delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return b.db.Batch(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketPending).Delete([]byte(key)); err != nil {
			return err
		}
		dead := tx.Bucket(bucketDead)
		if err := dead.Put([]byte(key), v); err != nil {
			return err
		}
		c := dead.Cursor()
		for n := dead.Stats().KeyN; n > maxDead; n-- {
			k, _ := c.First()
			if k == nil {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// counts returns the pending and dead deliveries.
func (b *outbox) counts() (pending, dead int, err error) {
	err = b.db.View(func(tx *bbolt.Tx) error {
		pending = tx.Bucket(bucketPending).Stats().KeyN
		dead = tx.Bucket(bucketDead).Stats().KeyN
		return nil
	})
	return pending, dead, err
}

func (b *outbox) close() error { return b.db.Close() }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}
