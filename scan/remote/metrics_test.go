package remote_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/scan/remote"
)

// What a scanner's /metrics (no secret needed) shows in
// TestQueueWaitsForAWorker: while one scan runs and one queues, its
// admission queue; after, the scans by result and the one wait — the
// scan refused at once was no scan and no wait.
var (
	metricsWhileQueued = []string{"imagegate_scan_queue_workers 1", "imagegate_scan_queue_running 1",
		"imagegate_scan_queue_waiting 1", "imagegate_scan_in_flight 1"}
	metricsAfterQueue = []string{`imagegate_scan_scans_total{result="ok"} 2`, "imagegate_scan_queue_waits_total 1",
		"imagegate_scan_queue_waiting 0", "imagegate_scan_in_flight 0", "imagegate_scan_db_loaded 1"}
)

// wantMetrics fails t unless the scanner at url exports every line.
func wantMetrics(t *testing.T, url string, lines []string) {
	t.Helper()
	code, body := do(t, http.MethodGet, url+remote.PathMetrics, "", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	scrape := "\n" + string(body)
	for _, line := range lines {
		if !strings.Contains(scrape, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, scrape)
		}
	}
}
