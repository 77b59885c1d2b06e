package security

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
)

// clock is a settable time shared by the monitors of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// alerts records the webhook events a monitor raises.
type alerts struct {
	mu  sync.Mutex
	got []notify.SecurityAlert
}

func (a *alerts) Security(_ context.Context, al notify.SecurityAlert) {
	a.mu.Lock()
	a.got = append(a.got, al)
	a.mu.Unlock()
}

func (a *alerts) all() []notify.SecurityAlert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]notify.SecurityAlert(nil), a.got...)
}

// logBuffer is a concurrency-safe sink of JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// events returns the "event" field of every audit line of the detectors.
func (b *logBuffer) events(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m["audit"] == "security" {
			out = append(out, m)
		}
	}
	return out
}

// rig is a monitor with its outputs.
type rig struct {
	m      *Monitor
	alerts *alerts
	logs   *logBuffer
	reg    *prometheus.Registry
}

// testConfig is the default configuration with small thresholds, so
// that the replayed traffic stays short.
func testConfig() config.Security {
	c := config.Default().Security
	c.PasswordSpraying = config.SecurityRule{Threshold: 4, Window: 10 * time.Minute, Cooldown: time.Hour}
	c.BruteForce = config.SecurityRule{Threshold: 5, Window: 10 * time.Minute, Cooldown: time.Hour}
	c.TokenAddresses = config.SecurityRule{Threshold: 3, Window: 15 * time.Minute, Cooldown: time.Hour}
	c.RefusedPushes = config.SecurityRule{Threshold: 3, Window: 10 * time.Minute, Cooldown: time.Hour}
	c.RobotReads.Learning = 24 * time.Hour
	c.VulnerableLayers.Remember = 24 * time.Hour
	return c
}

// newRig starts a monitor over store with cfg and the clock.
func newRig(t *testing.T, store fleet.Store, cfg config.Security, c *clock) *rig {
	t.Helper()
	r := &rig{alerts: &alerts{}, logs: &logBuffer{}, reg: prometheus.NewRegistry()}
	m, err := New(Options{Config: cfg, Store: store, Alerts: r.alerts, Registerer: r.reg,
		Logger: slog.New(slog.NewJSONHandler(r.logs, nil)), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	r.m = m
	return r
}

// detections is the metric's value for detector.
func (r *rig) detections(detector string) int {
	return int(testutil.ToFloat64(r.m.metrics.detections.WithLabelValues(detector)))
}

// checkOutputs asserts that the rig raised fires alerts of detector, each
// once in each output: webhook event, audit line and metric.
func (r *rig) checkOutputs(t *testing.T, detector string, fires int) {
	t.Helper()
	var hooks int
	for _, a := range r.alerts.all() {
		if a.Security.Detector == detector {
			hooks++
			if a.Type != eventType[detector] {
				t.Errorf("alert of %s has type %s", detector, a.Type)
			}
		}
	}
	var lines int
	for _, l := range r.logs.events(t) {
		if l["detector"] == detector {
			lines++
			if l["event"] != "security."+detector || l["level"] != "WARN" {
				t.Errorf("audit line %v: want event security.%s at WARN", l, detector)
			}
		}
	}
	if hooks != fires || lines != fires || r.detections(detector) != fires {
		t.Errorf("%s: %d webhook events, %d audit lines, metric %d; want %d of each",
			detector, hooks, lines, r.detections(detector), fires)
	}
}
