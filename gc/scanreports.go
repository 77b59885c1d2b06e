package gc

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// scanReportCursorKey (in stateSpace) is where the scan report window
// starts.
const scanReportCursorKey = "scan-reports-after"

// ScanReportMargin is how much longer than Options.ScanReportTTL a stored
// scan report outlives its last write: a report is read only while its
// fleet item lives (written just after the object, alive ScanReportTTL),
// so one that old is read by nobody.
const ScanReportMargin = time.Hour

// scanReportBatch bounds the paths of one deletion call (S3
// DeleteObjects takes 1,000).
const scanReportBatch = 1000

// ScanReportCandidate is a scan report stored in the storage driver
// (scan/detach: one too big for its fleet item, at
// <root>/<algorithm>/<hex> of the manifest) that a pass would delete: not
// written for longer than ScanReportTTL + ScanReportMargin, so its fleet
// item has expired.
type ScanReportCandidate struct {
	Manifest digest.Digest `json:"manifest"`
	Size     int64         `json:"size"`
	Why      string        `json:"why"`
	// Since is the object's modification time (its last write).
	Since time.Time `json:"since"`
	path  string
}

// scanReportAge is how long after its last write a stored report is a
// candidate.
func (c *Collector) scanReportAge() time.Duration { return c.opts.ScanReportTTL + ScanReportMargin }

// planScanReports reads the scan report window (windowSize files of
// Options.ScanReportRoot after where the last pass stopped) into p: its
// window, whose cursor the pass saves, and the reports old enough to go.
// A file there that is not <root>/<algorithm>/<hex> of a digest is left
// alone. Without a root it does nothing.
func (c *Collector) planScanReports(ctx context.Context, p *Plan, now time.Time) error {
	root := c.opts.ScanReportRoot
	if root == "" {
		return nil
	}
	w, err := c.readWindow(ctx, root, scanReportCursorKey, c.windowSize)
	if err != nil {
		return err
	}
	p.windows = append(p.windows, w)
	for _, fi := range w.files {
		d, ok := c.scanReportOf(fi.Path())
		if !ok {
			continue
		}
		if age := now.Sub(fi.ModTime()); age >= c.scanReportAge() {
			p.ScanReports = append(p.ScanReports, ScanReportCandidate{Manifest: d, Size: fi.Size(), Since: fi.ModTime().UTC(), path: fi.Path(),
				Why: fmt.Sprintf("stored scan report written %s ago (kept %s)", age.Round(time.Second), c.scanReportAge())})
		}
	}
	return nil
}

// scanReportOf is the manifest whose stored report is at p, false when p
// is not one.
func (c *Collector) scanReportOf(p string) (digest.Digest, bool) {
	d := digest.NewDigestFromEncoded(digest.Algorithm(path.Base(path.Dir(p))), path.Base(p))
	if d.Validate() != nil || path.Join(c.opts.ScanReportRoot, d.Algorithm().String(), d.Encoded()) != p {
		return "", false
	}
	return d, true
}

// sweepScanReports deletes what is left of rs after a recheck — each
// report still there, not written since the plan listed it, still old
// enough — scanReportBatch at a time, and counts them in res. A report
// rewritten between the recheck and the deletion (a new scan of its
// manifest) is lost: its readers find the object missing and scan again
// (scan/detach), never a wrong report.
func (c *Collector) sweepScanReports(ctx context.Context, rs []ScanReportCandidate, res *Result) error {
	now := c.now()
	var mu sync.Mutex
	var kept []ScanReportCandidate
	err := parallel(ctx, len(rs), func(ctx context.Context, i int) error {
		fi, ok, err := c.stored(ctx, rs[i].path)
		if err != nil || !ok || fi.ModTime().After(rs[i].Since) || now.Sub(fi.ModTime()) < c.scanReportAge() {
			return err
		}
		mu.Lock()
		kept = append(kept, rs[i])
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(kept, func(a, b ScanReportCandidate) int { return cmp.Compare(a.path, b.path) })
	for batch := range slices.Chunk(kept, scanReportBatch) {
		if err := c.deleteScanReports(ctx, batch); err != nil {
			return err
		}
		var bytes int64
		for _, r := range batch {
			bytes += r.Size
		}
		res.ScanReports += len(batch)
		c.opts.Metrics.scanReports(len(batch))
		c.opts.Logger.InfoContext(ctx, "gc deleted stored scan reports past their time", "audit", "gc",
			"scan_reports", len(batch), "bytes", bytes, "kept", c.scanReportAge().String())
	}
	return nil
}

// deleteScanReports deletes rs: one batch call when the driver can, else
// one Delete each; absent is no error.
func (c *Collector) deleteScanReports(ctx context.Context, rs []ScanReportCandidate) error {
	paths := make([]string, len(rs))
	for i, r := range rs {
		paths[i] = r.path
	}
	if bd, ok := c.opts.Driver.(BatchDeleter); ok {
		if err := bd.DeleteFiles(ctx, paths); err != nil {
			return fmt.Errorf("gc: deleting %d stored scan reports: %w", len(paths), err)
		}
		return nil
	}
	for _, p := range paths {
		if err := c.deleteAbsentOK(ctx, p); err != nil {
			return fmt.Errorf("gc: deleting the stored scan report %s: %w", p, err)
		}
	}
	return nil
}
