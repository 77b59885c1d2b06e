package notify

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/internal/boltfile"
)

var (
	bucketPending = []byte("pending")
	bucketBodies  = []byte("bodies")
	bucketDead    = []byte("dead")
)

// maxDead bounds the dead letters kept for inspection; the oldest go first.
const maxDead = 10000

// boltOutbox is the outbox of a single node, a bbolt file: a delivery
// enqueued survives a crash or restart until it succeeds or is given up.
// A delivery's body is kept apart (bucketBodies, same key) so that reading
// the queue at start-up decodes only the small headers; dead letters hold
// both. Keys are 8-byte big-endian sequence numbers.
type boltOutbox struct {
	db *bbolt.DB
}

func openBoltOutbox(path string) (*boltOutbox, error) {
	db, err := boltfile.Open(path, 5*time.Second, bucketPending, bucketBodies, bucketDead)
	if err != nil {
		return nil, fmt.Errorf("notify: outbox: %w", err)
	}
	db.MaxBatchDelay = 200 * time.Microsecond
	return &boltOutbox{db: db}, nil
}

// start hands c every pending delivery, oldest first: the file belongs to
// this process alone.
func (b *boltOutbox) start(c claims) error {
	var ps []*pending
	err := b.db.View(func(tx *bbolt.Tx) error {
		cur := tx.Bucket(bucketPending).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			var d delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("notify: outbox entry %x: %w", k, err)
			}
			ps = append(ps, &pending{key: string(k), d: d})
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.adopt(ps)
	return nil
}

// enqueue implements outbox: all or nothing, fsynced before it returns.
// Concurrent callers share one transaction (bbolt's Batch).
func (b *boltOutbox) enqueue(_ context.Context, ds []delivery) ([]string, error) {
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

// body implements outbox.
func (b *boltOutbox) body(_ context.Context, key string) ([]byte, error) {
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

// update implements outbox; the body, kept apart, is not rewritten.
func (b *boltOutbox) update(_ context.Context, key string, d delivery) error {
	d.Body = nil
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return b.db.Batch(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPending).Put([]byte(key), v) })
}

// remove implements outbox.
func (b *boltOutbox) remove(_ context.Context, key string) error {
	return b.db.Batch(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketBodies).Delete([]byte(key)); err != nil {
			return err
		}
		return tx.Bucket(bucketPending).Delete([]byte(key))
	})
}

// bury implements outbox, keeping the newest maxDead dead letters.
func (b *boltOutbox) bury(_ context.Context, key string, d delivery) error {
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

// deadLetters implements outbox; cursors are the keys in hex.
func (b *boltOutbox) deadLetters(_ context.Context, after string, limit int) ([]DeadLetter, error) {
	from, err := hex.DecodeString(after)
	if err != nil {
		return nil, fmt.Errorf("notify: bad dead-letter cursor %q", after)
	}
	var out []DeadLetter
	err = b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketDead).Cursor()
		k, v := c.Seek(from)
		if k != nil && after != "" && string(k) == string(from) {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var d delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("notify: dead letter %x: %w", k, err)
			}
			out = append(out, d.deadLetter(hex.EncodeToString(k)))
		}
		return nil
	})
	return out, err
}

// counts implements outbox.
func (b *boltOutbox) counts(context.Context) (pending, dead int, err error) {
	err = b.db.View(func(tx *bbolt.Tx) error {
		pending = tx.Bucket(bucketPending).Stats().KeyN
		dead = tx.Bucket(bucketDead).Stats().KeyN
		return nil
	})
	return pending, dead, err
}

func (b *boltOutbox) close() error { return b.db.Close() }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

var _ outbox = (*boltOutbox)(nil)
