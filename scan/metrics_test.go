package scan_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/scan"
)

// errScanner answers every scan with err and reports status.
type errScanner struct {
	err    error
	status scan.Status
	queue  *scan.QueueStats
}

func (s errScanner) Scan(context.Context, scan.Target) (*scan.Report, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &scan.Report{}, nil
}
func (s errScanner) Status(context.Context) scan.Status { return s.status }
func (errScanner) Close() error                         { return nil }

type queueScanner struct{ errScanner }

func (s queueScanner) QueueStats() scan.QueueStats { return *s.queue }

// TestMeteredResults: each kind of scan error is counted under its result.
func TestMeteredResults(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fmt.Errorf("scan x: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("scan x: %w: %w", scan.ErrBusy, context.DeadlineExceeded), "busy"},
		{fmt.Errorf("scan x: %w", scan.ErrNoDB), "no_db"},
		{scan.ErrInProgress, "in_progress"},
		{scan.ErrInvalidTarget, "invalid"},
		{errors.New("boom"), "failed"},
	} {
		reg := prometheus.NewPedanticRegistry()
		s, err := scan.Metered(errScanner{err: c.err}, reg, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Scan(context.Background(), scan.Target{}); !errors.Is(err, c.err) {
			t.Fatalf("Scan returned %v, want %v", err, c.err)
		}
		want := fmt.Sprintf("# HELP imagegate_scan_scans_total Scans the gate asked for, by result (ok, timeout, busy, no_db, in_progress, invalid, failed).\n"+
			"# TYPE imagegate_scan_scans_total counter\nimagegate_scan_scans_total{result=%q} 1\n", c.want)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "imagegate_scan_scans_total"); err != nil {
			t.Errorf("%v: %v", c.err, err)
		}
	}
}

// TestMeteredDB: the DB gauges follow Status — age when loaded, absent
// when not — and the queue gauges appear for a scanner with a queue.
func TestMeteredDB(t *testing.T) {
	updated := time.Now().Add(-10 * 24 * time.Hour)
	reg := prometheus.NewPedanticRegistry()
	q := &scan.QueueStats{Workers: 2, Running: 2, Waiting: 3, Waits: 4, WaitSeconds: 1.5}
	if _, err := scan.Metered(queueScanner{errScanner{status: scan.Status{Ready: true, DBUpdatedAt: updated}, queue: q}}, reg, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	age := gauge(t, reg, "imagegate_scan_db_age_seconds")
	if age < 10*24*3600 || age > 10*24*3600+60 {
		t.Errorf("db age %v s, want about 10 days", age)
	}
	for name, want := range map[string]float64{"imagegate_scan_db_loaded": 1, "imagegate_scan_db_max_age_seconds": 7 * 24 * 3600,
		"imagegate_scan_queue_workers": 2, "imagegate_scan_queue_running": 2, "imagegate_scan_queue_waiting": 3,
		"imagegate_scan_queue_waits_total": 4, "imagegate_scan_queue_wait_seconds_total": 1.5} {
		if got := gauge(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	reg = prometheus.NewPedanticRegistry()
	if _, err := scan.Metered(errScanner{status: scan.Status{Error: "downloading"}}, reg, 0); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg, "imagegate_scan_db_loaded"); got != 0 {
		t.Errorf("db_loaded = %v without a DB, want 0", got)
	}
	if n, err := testutil.GatherAndCount(reg, "imagegate_scan_db_age_seconds", "imagegate_scan_db_max_age_seconds", "imagegate_scan_queue_workers"); err != nil || n != 0 {
		t.Errorf("without a DB, a limit or a queue: %d age/limit/queue series (%v), want none", n, err)
	}
}

// gauge gathers the one sample of name from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// wrapper wraps a scanner as scan/detach does.
type wrapper struct{ scan.Scanner }

func (w wrapper) Unwrap() scan.Scanner { return w.Scanner }

// TestQueueOf: a scanner's queue is found through wrappers; a scanner
// without one (a pool's client) has none, wrapped or not.
func TestQueueOf(t *testing.T) {
	q := &scan.QueueStats{Workers: 3, Waiting: 2}
	queued := queueScanner{errScanner{queue: q}}
	for name, s := range map[string]scan.Scanner{"itself": queued, "wrapped": wrapper{queued}, "twice": wrapper{wrapper{queued}}} {
		got, ok := scan.QueueOf(s)
		if !ok || got.QueueStats() != *q {
			t.Errorf("%s: %v %v, want the inner queue", name, got, ok)
		}
	}
	for name, s := range map[string]scan.Scanner{"plain": errScanner{}, "wrapped": wrapper{errScanner{}}} {
		if _, ok := scan.QueueOf(s); ok {
			t.Errorf("%s: a queue found where there is none", name)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	if _, err := scan.Metered(wrapper{queued}, reg, 0); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg, "imagegate_scan_queue_waiting"); got != 2 {
		t.Errorf("Metered over a wrapper: imagegate_scan_queue_waiting %v, want the inner queue's 2", got)
	}
}
