package push

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// laggingIndex is a metadata.Store whose List answers as an eventually
// consistent secondary index does (DynamoDB's GSIs, which List by digest
// reads): a record written less than lag ago shows as it was before that
// write — its previous version, or not at all. Put, Finish and Get are
// the wrapped store's (Get reads the base table: strongly consistent).
//
// It is a fake because the fault is not reproducible on demand against a
// real server: DynamoDB Local propagates its indexes synchronously, and
// AWS's lag is short and unpredictable. Records written to the wrapped
// store directly (not through the wrapper) count as long visible.
type laggingIndex struct {
	metadata.Store
	lag time.Duration

	mu      sync.Mutex
	written map[string][]version // by record id, oldest first
	lists   atomic.Int64         // List calls
	stale   atomic.Int64         // records List hid or showed in an older version
}

// version is a record as one write left it, and when.
type version struct {
	at     time.Time
	record metadata.Record
}

func newLaggingIndex(s metadata.Store, lag time.Duration) *laggingIndex {
	return &laggingIndex{Store: s, lag: lag, written: map[string][]version{}}
}

func (l *laggingIndex) Put(ctx context.Context, r *metadata.Record) error {
	if err := l.Store.Put(ctx, r); err != nil {
		return err
	}
	l.remember(*r)
	return nil
}

func (l *laggingIndex) Finish(ctx context.Context, id string, f metadata.Finish) error {
	if err := l.Store.Finish(ctx, id, f); err != nil {
		return err
	}
	r, err := l.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	l.remember(*r)
	return nil
}

func (l *laggingIndex) remember(r metadata.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.written[r.ID] = append(l.written[r.ID], version{at: time.Now(), record: r})
}

// List is the wrapped store's List with every record replaced by its
// version as of lag ago (dropped when it did not exist then).
func (l *laggingIndex) List(ctx context.Context, q metadata.Query) (metadata.Page, error) {
	l.lists.Add(1)
	page, err := l.Store.List(ctx, q)
	if err != nil {
		return page, err
	}
	horizon := time.Now().Add(-l.lag)
	l.mu.Lock()
	defer l.mu.Unlock()
	visible := page.Records[:0:0]
	for _, r := range page.Records {
		versions, ok := l.written[r.ID]
		if !ok {
			visible = append(visible, r)
			continue
		}
		var seen *metadata.Record
		for i := range versions {
			if versions[i].at.After(horizon) {
				break
			}
			seen = &versions[i].record
		}
		if seen == nil || seen != &versions[len(versions)-1].record {
			l.stale.Add(1)
		}
		if seen != nil {
			c := *seen
			visible = append(visible, &c)
		}
	}
	page.Records = visible
	return page, nil
}
