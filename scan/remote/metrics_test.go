package remote_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/remote/remotetest"
	"github.com/imagegate/imagegate/scan/scantest"
)

// TestServerMetrics: a scanner's /metrics (no secret needed) counts its
// scans by result and shows its admission queue: a scan that queued is a
// wait, one refused at once is not a scan at all.
func TestServerMetrics(t *testing.T) {
	ns := remotetest.Storage(t)
	img := scantest.VulnerableImage(t)
	remotetest.Add(t, ns, "team/app", img)
	blocking := newBlockingScanner()
	url := remotetest.Serve(t, ns, remote.ServerOptions{Scanner: blocking, Workers: 1, Queue: 1, QueueWait: time.Minute})
	c := remotetest.Client(t, remote.ClientOptions{}, url)
	target := scantest.NewTarget(t, "team/app", img, remotetest.NoOpen(t))

	errs := make(chan error, 2)
	go func() { _, err := c.Scan(t.Context(), target); errs <- err }()
	<-blocking.started
	go func() { _, err := c.Scan(t.Context(), target); errs <- err }()
	waitFor(t, func() bool { return status(t, url).Queued == 1 })
	during := scrape(t, url)
	for _, line := range []string{"imagegate_scan_queue_workers 1", "imagegate_scan_queue_running 1",
		"imagegate_scan_queue_waiting 1", "imagegate_scan_in_flight 1"} {
		if !strings.Contains(during, "\n"+line+"\n") {
			t.Errorf("while one scan runs and one queues, /metrics lacks %q:\n%s", line, during)
		}
	}
	if _, err := c.Scan(t.Context(), target); !errors.Is(err, scan.ErrBusy) {
		t.Fatalf("third scan: err = %v, want scan.ErrBusy", err)
	}
	close(blocking.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	after := scrape(t, url)
	for _, line := range []string{`imagegate_scan_scans_total{result="ok"} 2`, "imagegate_scan_queue_waits_total 1",
		"imagegate_scan_queue_waiting 0", "imagegate_scan_in_flight 0", "imagegate_scan_db_loaded 1"} {
		if !strings.Contains(after, "\n"+line+"\n") {
			t.Errorf("after the scans, /metrics lacks %q:\n%s", line, after)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	code, body := do(t, http.MethodGet, url+remote.PathMetrics, "", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	return "\n" + string(body)
}
