package remote_test

import (
	"context"
	"sync"
	"time"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
)

// blockingScanner is a fake for a scan that takes long: Scan signals
// started, then waits for release (or its context).
type blockingScanner struct {
	scantest.Fake
	started chan struct{}
	release chan struct{}
}

func newBlockingScanner() *blockingScanner {
	return &blockingScanner{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blockingScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.Fake.Scan(ctx, t)
}

// dbScanner is a fake whose vulnerability DB can change, to test the
// pool's DB pin: Status and reports name its current DB.
type dbScanner struct {
	scantest.Fake
	mu        sync.Mutex
	updatedAt time.Time
	refreshed chan struct{}
}

func newDBScanner(updatedAt time.Time) *dbScanner {
	return &dbScanner{updatedAt: updatedAt, refreshed: make(chan struct{}, 16)}
}

func (d *dbScanner) db() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.updatedAt
}

func (d *dbScanner) setDB(updatedAt time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.updatedAt = updatedAt
}

func (d *dbScanner) Status(context.Context) scan.Status {
	return scan.Status{Ready: true, DBVersion: "2", DBUpdatedAt: d.db()}
}

func (d *dbScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	r, err := d.Fake.Scan(ctx, t)
	if err != nil {
		return nil, err
	}
	r.DBVersion, r.DBUpdatedAt = "2", d.db()
	return r, nil
}

// refresh stands for trivy.Scanner.Refresh: it records the call.
func (d *dbScanner) refresh(context.Context) error {
	d.refreshed <- struct{}{}
	return nil
}
