package notify

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/internal/boltfile"
)

// delivery is one event waiting to reach one endpoint. Its body is kept
// apart (bucketBodies, same key) so that scanning the queue decodes only
// this small header; dead letters hold both.
type delivery struct {
	Endpoint string          `json:"endpoint"`
	EventID  string          `json:"event_id"`
	Type     Type            `json:"type"`
	Body     json.RawMessage `json:"body,omitempty"`
	Enqueued time.Time       `json:"enqueued"`
	// Attempts made so far; Next is when the next may start.
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next"`
	LastError string    `json:"last_error,omitempty"`
}

var (
	bucketPending = []byte("pending")
	bucketBodies  = []byte("bodies")
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
	db, err := boltfile.Open(path, 5*time.Second, bucketPending, bucketBodies, bucketDead)
	if err != nil {
		return nil, fmt.Errorf("notify: outbox: %w", err)
	}
	db.MaxBatchDelay = 200 * time.Microsecond
	return &outbox{db: db}, nil
}

// enqueue stores ds durably (fsynced before it returns) and returns
// their keys. Concurrent callers share one transaction (bbolt's Batch).
func (b *outbox) enqueue(ds []delivery) ([]string, error) {
	keys := make([]string, len(ds))
	vals := make([][]byte, len(ds))
	for i, d := range ds {
		d.Body = nil
		v, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("notify: encoding delivery: %w", err)
		}
		vals[i] = v
	}
	err := b.db.Batch(func(tx *bbolt.Tx) error { // may run twice (alone after a batch failed)
		bk, bodies := tx.Bucket(bucketPending), tx.Bucket(bucketBodies)
		for i, v := range vals {
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			keys[i] = string(seqKey(seq))
			if err := bk.Put(seqKey(seq), v); err != nil {
				return err
			}
			if err := bodies.Put(seqKey(seq), ds[i].Body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: writing outbox: %w", err)
	}
	return keys, nil
}

// each calls fn with every pending delivery (without its body), oldest
// first, until fn returns false. The key is a copy fn may keep.
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

// body returns the body of the pending delivery at key.
func (b *outbox) body(key string) ([]byte, error) {
	var body []byte
	err := b.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketBodies).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("notify: outbox entry %x has no body", key)
		}
		body = append([]byte(nil), v...)
		return nil
	})
	return body, err
}

// update rewrites the pending delivery at key (after a failed attempt).
func (b *outbox) update(key string, d delivery) error {
	d.Body = nil
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return b.db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPending).Put([]byte(key), v) })
}

// remove deletes the delivery at key once it has succeeded.
func (b *outbox) remove(key string) error {
	return b.db.Batch(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketBodies).Delete([]byte(key)); err != nil {
			return err
		}
		return tx.Bucket(bucketPending).Delete([]byte(key))
	})
}

// bury moves the delivery at key, with its body, to the dead letters (given up).
func (b *outbox) bury(key string, d delivery) error {
	return b.db.Batch(func(tx *bbolt.Tx) error {
		bodies := tx.Bucket(bucketBodies)
		d.Body = append(json.RawMessage(nil), bodies.Get([]byte(key))...)
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := bodies.Delete([]byte(key)); err != nil {
			return err
		}
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
