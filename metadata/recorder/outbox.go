package recorder

import (
	"context"

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

// queued is an op in the outbox under its key.
type queued struct {
	key string
	op  op
}

// outbox is a durable FIFO of store writes: an op enqueued survives the
// process that enqueued it until a replay applies it. Two
// implementations: a bbolt file for a single node (boltOutbox) and the
// registry's object storage for replicas (storageOutbox), which any
// replica replays and which stays up when the metadata database is down.
// The recorder does not know which.
//
// The order is the order of enqueue within a process; the ops of one
// record (its Put, then its Finish) are enqueued by one process, so
// replay keeps each record's order.
type outbox interface {
	// enqueue appends o durably.
	enqueue(ctx context.Context, o op) error
	// oldest returns up to limit ops, oldest first.
	oldest(ctx context.Context, limit int) ([]queued, error)
	// remove deletes the op at key once it has been applied; removing an
	// op already removed (by another replica's replay) is not an error.
	remove(ctx context.Context, key string) error
	// len counts the waiting ops.
	len(ctx context.Context) (int, error)
	close() error
}
