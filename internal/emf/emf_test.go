package emf

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testMetrics is a registry like imagegate's: a request counter and
// duration histogram by route, method and status, a gauge, and a family
// outside imagegate_.
type testMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	backlog  prometheus.Gauge
}

func newTestMetrics(t *testing.T) *testMetrics {
	t.Helper()
	labels := []string{"route", "method", "status"}
	m := &testMetrics{
		reg:      prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imagegate_http_requests_total", Help: "h"}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "imagegate_http_request_duration_seconds", Help: "h"}, labels),
		backlog:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "imagegate_webhook_backlog", Help: "h"}),
	}
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "go_other_total", Help: "h"})
	other.Inc()
	m.reg.MustRegister(m.requests, m.duration, m.backlog, other)
	return m
}

func (m *testMetrics) request(route, method, status string, d time.Duration) {
	m.requests.WithLabelValues(route, method, status).Inc()
	m.duration.WithLabelValues(route, method, status).Observe(d.Seconds())
}

func (m *testMetrics) gather(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	f, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// decode validates every document against the EMF specification and
// returns them decoded, keyed by their dimension values ("route=…,…").
func decode(t *testing.T, docs [][]byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range docs {
		if err := validateEMF(d); err != nil {
			t.Fatalf("not valid EMF: %v\n%s", err, d)
		}
		var m map[string]any
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		dims := m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)[0].([]any)
		var key []string
		for _, k := range dims {
			key = append(key, fmt.Sprintf("%s=%v", k, m[k.(string)]))
		}
		out[strings.Join(key, ",")] = m
	}
	return out
}

// TestEncodeDeltas: counters and histograms are emitted as their increase
// since the previous Encode, gauges as they are; every document is valid
// EMF with the namespace, the timestamp in ms, units, and the properties;
// families outside imagegate_ are left out by default.
func TestEncodeDeltas(t *testing.T) {
	m := newTestMetrics(t)
	enc := NewEncoder(Options{Namespace: "imagegate", Properties: map[string]string{"replica": "r1"}})
	m.request("manifest", "PUT", "201", 200*time.Millisecond)
	m.request("manifest", "PUT", "201", 300*time.Millisecond)
	m.request("blob", "HEAD", "404", time.Millisecond)
	m.backlog.Set(7)
	now := time.UnixMilli(1_700_000_000_123)

	docs, err := enc.Encode(now, m.gather(t))
	if err != nil {
		t.Fatal(err)
	}
	first := decode(t, docs)
	put := first["method=PUT,route=manifest,status=201"]
	if put == nil {
		t.Fatalf("no document for PUT manifest 201: %v", first)
	}
	for k, want := range map[string]any{"imagegate_http_requests_total": 2.0, "imagegate_http_request_duration_seconds_count": 2.0,
		"imagegate_http_request_duration_seconds_sum": 0.5, "replica": "r1"} {
		if put[k] != want {
			t.Errorf("first %s = %v, want %v", k, put[k], want)
		}
	}
	aws := put["_aws"].(map[string]any)
	if aws["Timestamp"] != 1_700_000_000_123.0 {
		t.Errorf("Timestamp %v", aws["Timestamp"])
	}
	directive := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if directive["Namespace"] != "imagegate" {
		t.Errorf("Namespace %v", directive["Namespace"])
	}
	units := map[string]string{}
	for _, d := range directive["Metrics"].([]any) {
		def := d.(map[string]any)
		units[def["Name"].(string)] = def["Unit"].(string)
	}
	if units["imagegate_http_requests_total"] != "Count" || units["imagegate_http_request_duration_seconds_sum"] != "Seconds" {
		t.Errorf("units %v", units)
	}
	if g := first[""]; g == nil || g["imagegate_webhook_backlog"] != 7.0 {
		t.Errorf("gauge without labels: %v", first[""])
	}
	for _, doc := range first {
		if _, ok := doc["go_other_total"]; ok {
			t.Errorf("a family outside imagegate_ was emitted: %v", doc)
		}
	}

	// One more PUT: the next emission says 1 (the increase), the quiet
	// series 0, the gauge its value.
	m.request("manifest", "PUT", "201", 100*time.Millisecond)
	docs, err = enc.Encode(now.Add(time.Minute), m.gather(t))
	if err != nil {
		t.Fatal(err)
	}
	second := decode(t, docs)
	if got := second["method=PUT,route=manifest,status=201"]["imagegate_http_requests_total"]; got != 1.0 {
		t.Errorf("second emission of PUT = %v, want the increase 1", got)
	}
	if got := second["method=HEAD,route=blob,status=404"]["imagegate_http_requests_total"]; got != 0.0 {
		t.Errorf("second emission of the quiet HEAD = %v, want 0", got)
	}
	if got := second[""]["imagegate_webhook_backlog"]; got != 7.0 {
		t.Errorf("gauge = %v, want 7", got)
	}
}

// TestDimensionsBounded: with a dimension allowlist, the other labels are
// summed away, so series differing only in them become one; selected
// metrics only.
func TestDimensionsBounded(t *testing.T) {
	m := newTestMetrics(t)
	m.request("manifest", "PUT", "201", time.Millisecond)
	m.request("manifest", "PUT", "503", time.Millisecond)
	m.request("blob", "GET", "200", time.Millisecond)
	enc := NewEncoder(Options{Namespace: "ns", Metrics: []string{"imagegate_http_requests_total"}, Dimensions: []string{"route"}})
	docs, err := enc.Encode(time.Now(), m.gather(t))
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, docs)
	if len(got) != 2 || got["route=manifest"]["imagegate_http_requests_total"] != 2.0 || got["route=blob"]["imagegate_http_requests_total"] != 1.0 {
		t.Errorf("by route: %v", got)
	}
	for _, doc := range got {
		if _, ok := doc["imagegate_http_request_duration_seconds_count"]; ok {
			t.Errorf("a metric not selected was emitted: %v", doc)
		}
		if _, ok := doc["status"]; ok {
			t.Errorf("a label not kept is a member: %v", doc)
		}
	}
}

// TestManyMetricsSplit: more than 100 metrics with the same dimensions
// are split into documents of at most 100, each valid.
func TestManyMetricsSplit(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := range 150 {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: fmt.Sprintf("imagegate_c%03d_total", i), Help: "h"})
		c.Add(float64(i))
		reg.MustRegister(c)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := NewEncoder(Options{Namespace: "ns"}).Encode(time.Now(), families)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	for _, d := range docs {
		if err := validateEMF(d); err != nil {
			t.Fatalf("not valid EMF: %v", err)
		}
	}
}

// TestDimensionValues: values CloudWatch refuses (empty, non-ASCII,
// control characters, too long) are made acceptable.
func TestDimensionValues(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "none",
		"  ":                      "none",
		"ok":                      "ok",
		"é\n":                     "___",
		strings.Repeat("a", 2000): strings.Repeat("a", MaxDimensionValue),
	} {
		if got := dimensionValue(in); got != want {
			t.Errorf("dimensionValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestValidatorRejects: the spec check itself fails documents that break
// the specification (so the tests above would notice).
func TestValidatorRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"no _aws":           `{"a":1}`,
		"string timestamp":  `{"_aws":{"Timestamp":"1","CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"a"}]}]},"a":1}`,
		"missing metric":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"a"}]}]}}`,
		"numeric dimension": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"a"}]}]},"a":1,"d":2}`,
		"bad unit":          `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"a","Unit":"Requests"}]}]},"a":1}`,
		"extra member":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"a"}],"X":1}]},"a":1}`,
		"blank namespace":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":" ","Dimensions":[[]],"Metrics":[{"Name":"a"}]}]},"a":1}`,
	} {
		if validateEMF([]byte(doc)) == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	ok := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"a","Unit":"Count"}]}]},"a":[1,2],"d":"x"}`
	if err := validateEMF([]byte(ok)); err != nil {
		t.Errorf("refused a valid document: %v", err)
	}
}
