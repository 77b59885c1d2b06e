package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// bucketRecent holds a single node's recent log in its outbox's bbolt
// file: key the endpoint's name, value its attempts newest first (JSON,
// like the shared log's items).
var bucketRecent = []byte("recent")

const (
	// recentBuffer bounds the attempts waiting for the writer (and those
	// it writes in one transaction); add waits, up to its ctx, while it is
	// full.
	recentBuffer = 256
	// recentSweepEvery is how often the writer drops expired logs, besides
	// once when the log is opened.
	recentSweepEvery = time.Hour
)

// boltRecent is a single node's recent log, kept in the bbolt file of its
// outbox through the outbox's handle (bbolt locks a file to one opener),
// so the history survives a restart. Attempts reach the file through one
// writer goroutine that writes all those waiting in one transaction: a
// delivery waits for no commit of its own to be recorded, and a burst of
// attempts costs one commit. An attempt add accepted is in the file once
// the writer's transaction commits, at the latest when close returns; a
// crash may lose the last few. An endpoint's log is dropped
// sharedRecentTTL after its newest attempt, as the shared log's item
// expires: list hides it from then on, and the writer deletes it (at
// open, then at most recentSweepEvery later), so the logs of removed or
// renamed endpoints do not pile up.
type boltRecent struct {
	db     *bbolt.DB
	now    func() time.Time
	logger *slog.Logger
	in     chan recentEntry
	done   chan struct{} // closed when the writer has written everything and returned
	swept  time.Time     // the last sweep (writer only, after open)
}

type recentEntry struct {
	endpoint string
	a        Attempt
}

// openBoltRecent opens the recent log in db (the outbox's, open), drops
// the expired logs and starts the writer. A failure to sweep is logged:
// the log is best effort.
func openBoltRecent(db *bbolt.DB, now func() time.Time, logger *slog.Logger) *boltRecent {
	r := &boltRecent{db: db, now: now, logger: logger, in: make(chan recentEntry, recentBuffer), done: make(chan struct{})}
	if err := db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketRecent)
		if err != nil {
			return err
		}
		return r.sweep(bk)
	}); err != nil {
		logger.Warn("dropping expired delivery records failed", "error", err.Error())
	}
	go r.run()
	return r
}

// add queues a for the writer; it returns an error only when ctx ends
// while the writer is recentBuffer attempts behind.
func (r *boltRecent) add(ctx context.Context, endpoint string, a Attempt) error {
	select {
	case r.in <- recentEntry{endpoint: endpoint, a: a}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notify: recording a delivery attempt to %s: the writer is behind: %w", endpoint, context.Cause(ctx))
	}
}

// list implements recentLog: what the file holds (attempts still with the
// writer are not shown yet).
func (r *boltRecent) list(_ context.Context, endpoint string) ([]Attempt, error) {
	var log []Attempt
	err := r.db.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketRecent)
		if bk == nil {
			return nil
		}
		if v := bk.Get([]byte(endpoint)); v != nil {
			return json.Unmarshal(v, &log)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: reading the recent deliveries to %s: %w", endpoint, err)
	}
	if expiredLog(log, r.now()) {
		return nil, nil
	}
	return log[:min(len(log), RecentPerEndpoint)], nil
}

// close implements recentLog: the writer writes what is queued and stops.
func (r *boltRecent) close() {
	close(r.in)
	<-r.done
}

// run is the writer: it takes what is queued (at least one attempt, at
// most recentBuffer) and writes it in one transaction, until close.
func (r *boltRecent) run() {
	defer close(r.done)
	batch := make([]recentEntry, 0, recentBuffer)
	for e := range r.in {
		batch = append(batch[:0], e)
	drain:
		for len(batch) < recentBuffer {
			select {
			case e, ok := <-r.in:
				if !ok {
					break drain
				}
				batch = append(batch, e)
			default:
				break drain
			}
		}
		if err := r.write(batch); err != nil {
			r.logger.Warn("recording delivery attempts failed", "attempts", len(batch), "error", err.Error())
		}
	}
}

// write prepends each attempt of batch, in order, to its endpoint's log,
// one read and one write per endpoint; it sweeps too when one is due.
func (r *boltRecent) write(batch []recentEntry) error {
	err := r.db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketRecent)
		if err != nil {
			return err
		}
		logs := map[string][]Attempt{}
		for _, e := range batch {
			log, seen := logs[e.endpoint]
			if !seen {
				// An unreadable log is replaced: it is a record, not a queue.
				if json.Unmarshal(bk.Get([]byte(e.endpoint)), &log) != nil {
					log = nil
				}
			}
			logs[e.endpoint] = prepend(log, e.a)
		}
		for endpoint, log := range logs {
			v, err := json.Marshal(log)
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(endpoint), v); err != nil {
				return fmt.Errorf("endpoint %q: %w", endpoint, err)
			}
		}
		if r.now().Sub(r.swept) >= recentSweepEvery {
			return r.sweep(bk)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: writing %d delivery attempts to the outbox file: %w", len(batch), err)
	}
	return nil
}

// sweep deletes the expired and the unreadable logs in bk.
func (r *boltRecent) sweep(bk *bbolt.Bucket) error {
	now := r.now()
	r.swept = now
	var drop [][]byte
	err := bk.ForEach(func(k, v []byte) error {
		var log []Attempt
		if json.Unmarshal(v, &log) != nil || expiredLog(log, now) {
			drop = append(drop, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := bk.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// expiredLog reports whether log (newest first) has had no attempt for
// sharedRecentTTL at now; an empty log has nothing to show either.
func expiredLog(log []Attempt, now time.Time) bool {
	return len(log) == 0 || now.Sub(log[0].At) > sharedRecentTTL
}

var _ recentLog = (*boltRecent)(nil)
