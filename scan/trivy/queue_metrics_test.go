package trivy_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/detach"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
)

// TestQueueGaugesThroughDetach: the gate's scanner as `serve` builds it
// with scan.pool.detachafter (Metered over scan/detach over Trivy in
// process) exports Trivy's queue: imagegate_scan_queue_waiting goes to 1
// while a scan waits behind the only worker and back to 0 once it got
// one. (Before, detach hid the queue and no queue series was exported.)
func TestQueueGaugesThroughDetach(t *testing.T) {
	engine := openFixture(t, trivy.Options{MaxConcurrent: 1})
	detached, err := detach.New(engine, detach.Options{After: time.Minute, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	s, err := scan.Metered(detached, reg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := series(t, reg); got["imagegate_scan_queue_workers"] != 1 || got["imagegate_scan_queue_waiting"] != 0 {
		t.Fatalf("idle: %v, want 1 worker, nobody waiting", got)
	}

	blobs := scantest.NewBlobs()
	blobs.Add(t, scantest.VulnerableImage(t))
	blobs.Add(t, scantest.CleanImage(t))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	first := scantest.NewTarget(t, "team/first", scantest.VulnerableImage(t), blockingOpener(entered, release, false, blobs))
	errs := make(chan error, 2)
	go func() { _, err := s.Scan(t.Context(), first); errs <- err }()
	<-entered // the first holds the only worker
	go func() {
		_, err := s.Scan(t.Context(), blobs.Target(t, "team/second", scantest.CleanImage(t)))
		errs <- err
	}()

	waitSeries(t, reg, "the second scan queued", func(m map[string]float64) bool {
		return m["imagegate_scan_queue_waiting"] == 1 && m["imagegate_scan_queue_running"] == 1
	})
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("scan: %v", err)
		}
	}
	waitSeries(t, reg, "the queue emptied", func(m map[string]float64) bool {
		return m["imagegate_scan_queue_waiting"] == 0 && m["imagegate_scan_queue_running"] == 0 &&
			m["imagegate_scan_queue_waits_total"] == 2
	})
}

// series gathers reg: each unlabelled series' value by name.
func series(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 {
				continue
			}
			switch {
			case m.Gauge != nil:
				out[mf.GetName()] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// waitSeries polls reg (every 5 ms, at most a minute) until cond holds.
func waitSeries(t *testing.T, reg *prometheus.Registry, what string, cond func(map[string]float64) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		m := series(t, reg)
		if cond(m) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute; the queue series: workers %v running %v waiting %v waits %v",
				what, m["imagegate_scan_queue_workers"], m["imagegate_scan_queue_running"],
				m["imagegate_scan_queue_waiting"], m["imagegate_scan_queue_waits_total"])
		}
		<-tick.C
	}
}
