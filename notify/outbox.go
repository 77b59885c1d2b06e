package notify

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"time"
)

// delivery is one event waiting to reach one endpoint.
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

// outbox is where deliveries wait until their endpoint acknowledges them
// or they are given up, durably: a delivery enqueued survives the process
// that enqueued it. Two implementations: a bbolt file for a single node
// (boltOutbox) and fleet.Store for replicas (sharedOutbox), where any live
// replica delivers what a dead one left. The notifier does not know which.
//
// Keys are opaque strings the outbox chose; every method taking a key is
// called only for a delivery this process holds (one handed to it by
// enqueue or claims.adopt, and not taken back by claims.lose).
type outbox interface {
	// start hands the process the deliveries it is to send, through c:
	// those waiting from a previous run now (bbolt), or, with replicas,
	// those of dead replicas whenever their lease ends. It returns once the
	// outbox is ready to enqueue.
	start(c claims) error
	// enqueue stores ds durably and returns their keys, in order. On error
	// it returns the keys of the deliveries written before it (possibly
	// none); the others are not stored.
	enqueue(ctx context.Context, ds []delivery) ([]string, error)
	// body returns the request body of the delivery at key: errLost when
	// the delivery is no longer this process's to send, errNotNow when it
	// may not be sent yet (the outbox cannot vouch for its claim).
	body(ctx context.Context, key string) ([]byte, error)
	// update rewrites the delivery at key (after a failed attempt); d.Body
	// is the body body returned.
	update(ctx context.Context, key string, d delivery) error
	// remove deletes the delivery at key once it has succeeded.
	remove(ctx context.Context, key string) error
	// bury moves the delivery at key, with d.Body, to the dead letters.
	bury(ctx context.Context, key string, d delivery) error
	// deadLetters returns at most limit dead letters after the cursor
	// after ("" from the oldest), oldest first.
	deadLetters(ctx context.Context, after string, limit int) ([]DeadLetter, error)
	// counts returns the deliveries pending (with replicas: held by this
	// process) and dead.
	counts(ctx context.Context) (pending, dead int, err error)
	// close stops what start started and releases the outbox.
	close() error
}

// claims is what an outbox tells the notifier about the deliveries it is
// to send. Both methods are safe for concurrent use.
type claims interface {
	// adopt queues deliveries this process now holds (their Body nil).
	adopt(ps []*pending)
	// lose drops the queued deliveries whose key matches: another process
	// holds them now.
	lose(match func(key string) bool)
}

var (
	// errLost: another process holds the delivery (or it is gone).
	errLost = errors.New("notify: the delivery is held by another replica")
	// errNotNow: the outbox cannot vouch for its claim on the delivery at
	// the moment (the shared store is not answering); try later.
	errNotNow = errors.New("notify: the delivery's claim cannot be confirmed now")
)

// DeadLetter is a delivery given up after its last attempt.
type DeadLetter struct {
	// Cursor orders dead letters (oldest first); pass the last one's to
	// DeadLetters for the next page.
	Cursor    string
	Endpoint  string
	EventID   string
	Type      Type
	Enqueued  time.Time
	Attempts  int
	LastError string
	// Body is the event as it would have been delivered.
	Body json.RawMessage
}

func (d delivery) deadLetter(cursor string) DeadLetter {
	return DeadLetter{Cursor: cursor, Endpoint: d.Endpoint, EventID: d.EventID, Type: d.Type, Enqueued: d.Enqueued,
		Attempts: d.Attempts, LastError: d.LastError, Body: d.Body}
}

// DefaultLease is the default Options.Lease.
const DefaultLease = 30 * time.Second

// openOutbox opens the outbox opts ask for and says which, for errors.
func openOutbox(opts Options) (outbox, string, error) {
	if opts.Shared == nil {
		box, err := openBoltOutbox(opts.OutboxPath)
		return box, opts.OutboxPath, err
	}
	owner := opts.Owner
	if owner == "" {
		host, _ := os.Hostname()
		owner = host + "-" + rand.Text()[:8]
	}
	ttl := opts.Lease
	if ttl <= 0 {
		ttl = DefaultLease
	}
	return newSharedOutbox(opts.Shared, owner, ttl, opts.Logger), "shared, owner " + owner, nil
}
