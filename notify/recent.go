package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// Attempt is one delivery attempt to an endpoint, as the recent log keeps
// it: what an administrator needs to see that a receiver gets its events
// (or why not), never the event's body.
type Attempt struct {
	At      time.Time `json:"at"`
	EventID string    `json:"event_id"`
	Type    Type      `json:"type"`
	// Attempt is the attempt's number for this event (1 the first).
	Attempt int `json:"attempt"`
	// Status is the receiver's HTTP status, 0 when it gave none
	// (connection refused, timeout).
	Status   int           `json:"status"`
	Duration time.Duration `json:"duration"`
	// Outcome is delivered, retry (failed, will be tried again) or dead
	// (failed, the last attempt).
	Outcome string `json:"outcome"`
	// Error is why it failed, at most maxAttemptError bytes; "" delivered.
	Error string `json:"error,omitempty"`
}

// RecentPerEndpoint is how many attempts the recent log keeps per
// endpoint (the newest).
const RecentPerEndpoint = 20

// maxAttemptError bounds an Attempt's Error, so that an endpoint's log
// stays a few KB whatever receivers answer.
const maxAttemptError = 200

// spaceRecent holds the shared recent log: key the endpoint's name, value
// its attempts newest first (JSON), for sharedRecentTTL after the last.
const spaceRecent = "webhook-recent"

// sharedRecentTTL drops the log of an endpoint nothing was sent to for a
// week (a renamed or removed endpoint's), shared or in a single node's
// bbolt file.
const sharedRecentTTL = 7 * 24 * time.Hour

// recentLog keeps the last RecentPerEndpoint attempts per endpoint. It is
// a record for people, best effort: a failure to write it loses an entry,
// never a delivery.
type recentLog interface {
	add(ctx context.Context, endpoint string, a Attempt) error
	// list returns the endpoint's attempts, newest first.
	list(ctx context.Context, endpoint string) ([]Attempt, error)
	// close writes what add accepted and releases the log; add may not be
	// called after it (the outbox it lives in is closed after it).
	close()
}

// newRecentLog is the log beside box: in the bbolt file of a single node's
// outbox (surviving restarts), or in the shared store with replicas (every
// replica sees every replica's attempts).
func newRecentLog(opts Options, box outbox) recentLog {
	if b, ok := box.(*boltOutbox); ok {
		return openBoltRecent(b.db, opts.Now, opts.Logger)
	}
	return sharedRecent{store: opts.Shared}
}

// prepend is a's log with a first, cut to RecentPerEndpoint, a's Error cut
// to maxAttemptError.
func prepend(log []Attempt, a Attempt) []Attempt {
	if len(a.Error) > maxAttemptError {
		a.Error = a.Error[:maxAttemptError]
	}
	out := make([]Attempt, 0, min(len(log)+1, RecentPerEndpoint))
	out = append(out, a)
	return append(out, log[:min(len(log), RecentPerEndpoint-1)]...)
}

// sharedRecent is the replicas' recent log: one item per endpoint in a
// fleet.Store, each attempt a compare-and-swap of it (one read and one
// write).
type sharedRecent struct{ store fleet.Store }

func (s sharedRecent) add(ctx context.Context, endpoint string, a Attempt) error {
	_, err := fleet.Update(ctx, s.store, spaceRecent, endpoint, sharedRecentTTL, func(cur []byte, exists bool) ([]byte, error) {
		var log []Attempt
		if exists {
			// An unreadable log is replaced: it is a record, not a queue.
			_ = json.Unmarshal(cur, &log)
		}
		return json.Marshal(prepend(log, a))
	})
	if err != nil {
		return fmt.Errorf("notify: recording a delivery attempt to %s: %w", endpoint, err)
	}
	return nil
}

func (s sharedRecent) list(ctx context.Context, endpoint string) ([]Attempt, error) {
	it, err := s.store.Get(ctx, spaceRecent, endpoint)
	if err != nil {
		if errors.Is(err, fleet.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("notify: reading the recent deliveries to %s: %w", endpoint, err)
	}
	var log []Attempt
	if err := json.Unmarshal(it.Value, &log); err != nil {
		return nil, fmt.Errorf("notify: decoding the recent deliveries to %s: %w", endpoint, err)
	}
	return log[:min(len(log), RecentPerEndpoint)], nil
}

func (sharedRecent) close() {}

// Recent returns the last attempts (at most RecentPerEndpoint) to the
// endpoint named endpoint, newest first: successes and failures, with
// replicas every replica's. nil for an unknown endpoint.
func (n *Notifier) Recent(ctx context.Context, endpoint string) ([]Attempt, error) {
	if n == nil || n.recent == nil || n.endpoints[endpoint] == nil {
		return nil, nil
	}
	return n.recent.list(ctx, endpoint)
}

// record adds an attempt to the recent log; a failure is logged only (the
// log is a record for people, the delivery's outcome is already durable).
func (n *Notifier) record(ctx context.Context, ep *endpoint, a Attempt) {
	if err := n.recent.add(ctx, ep.Name, a); err != nil {
		n.logger.Warn("recording a delivery attempt failed", "endpoint", ep.Name, "event_id", a.EventID, "error", err.Error())
	}
}
