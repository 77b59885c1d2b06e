package gc

import (
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/storagedriver/fs"
)

// reportRoot is where the tests store scan reports (scan/detach's
// ReportRoot in the registry).
const reportRoot = "/imagegate/scan-reports"

// reportWorld is a filesystem driver (whose modification times the tests
// set) and a collector of its scan reports, ttl 10 minutes.
type reportWorld struct {
	dir     string
	driver  storagedriver.StorageDriver
	c       *Collector
	metrics *Metrics
}

func newReportWorld(t *testing.T) *reportWorld {
	t.Helper()
	w := &reportWorld{dir: t.TempDir()}
	w.driver = fs.New(w.dir)
	ns, err := storage.NewRegistry(t.Context(), w.driver, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	if w.metrics, err = NewMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	w.c, err = New(Options{Store: fleet.NewMemory(0), Namespace: ns, Driver: w.driver, Metrics: w.metrics,
		ScanReportRoot: reportRoot, ScanReportTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	return w
}

// put stores a report of name (a manifest's content, or a file name when
// not a digest's) written age ago, and answers its path.
func (w *reportWorld) put(t *testing.T, name string, age time.Duration) string {
	t.Helper()
	p := path.Join(reportRoot, "sha256", name)
	if err := w.driver.PutContent(t.Context(), p, []byte("gzipped report of "+name)); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(filepath.Join(w.dir, filepath.FromSlash(p)), at, at); err != nil {
		t.Fatal(err)
	}
	return p
}

// stored reports whether p is stored.
func (w *reportWorld) stored(t *testing.T, p string) bool {
	t.Helper()
	_, ok, err := w.c.stored(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestPassDeletesOldScanReports: reports not written for longer than
// their TTL + ScanReportMargin go — listed by the plan, counted in the
// result and the metric — a window of files per pass, successive passes
// going round the tree; a younger report, and a file there that is no
// report, stay.
func TestPassDeletesOldScanReports(t *testing.T) {
	w := newReportWorld(t)
	w.c.windowSize = 2
	past := 10*time.Minute + ScanReportMargin + time.Minute
	var old []string
	for _, s := range []string{"a", "b", "c"} {
		old = append(old, w.put(t, digest.FromString(s).Encoded(), past))
	}
	young := w.put(t, digest.FromString("young").Encoded(), 10*time.Minute+ScanReportMargin-time.Minute)
	odd := w.put(t, "not-a-digest", past)

	p, err := w.c.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ScanReports) == 0 || len(p.ScanReports) > 2 {
		t.Fatalf("plan of a window of 2 listed %d scan reports: %+v", len(p.ScanReports), p.ScanReports)
	}
	for _, r := range p.ScanReports {
		if r.Manifest.Validate() != nil || r.Size == 0 || r.path == young || r.path == odd {
			t.Errorf("plan listed %+v", r)
		}
	}
	deleted := 0
	for pass := 0; pass < 4; pass++ { // 5 files, 2 a pass: round the tree in 3
		res, err := w.c.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res.ScanReports > 2 {
			t.Fatalf("pass %d with a window of 2 deleted %d scan reports", pass, res.ScanReports)
		}
		deleted += res.ScanReports
	}
	if deleted != 3 {
		t.Errorf("passes deleted %d scan reports, want 3", deleted)
	}
	for _, p := range old {
		if w.stored(t, p) {
			t.Errorf("old scan report %s kept", p)
		}
	}
	if !w.stored(t, young) || !w.stored(t, odd) {
		t.Errorf("young report kept: %t, file that is no report kept: %t; want both", w.stored(t, young), w.stored(t, odd))
	}
	if n := testutil.ToFloat64(w.metrics.scanReportsDeleted); n != 3 {
		t.Errorf("imagegate_gc_scan_reports_deleted_total = %v, want 3", n)
	}
}

// TestScanReportRewrittenKept: a report rewritten (a new scan of its
// manifest) after the plan listed it is kept.
func TestScanReportRewrittenKept(t *testing.T) {
	w := newReportWorld(t)
	name := digest.FromString("rescanned").Encoded()
	p := w.put(t, name, 10*time.Minute+ScanReportMargin+time.Minute)
	w.c.SetHook(func(point, _ string) {
		if point == "planned" {
			if err := w.driver.PutContent(t.Context(), p, []byte("the new scan's report")); err != nil {
				t.Error(err)
			}
		}
	})
	res, err := w.c.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.ScanReports != 0 || !w.stored(t, p) {
		t.Errorf("deleted %d scan reports, stored %t; want the rewritten report kept", res.ScanReports, w.stored(t, p))
	}
}
