package emf

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestHistogramDistributionDocument: a histogram's interval is sent as a
// distribution — one value per bucket that gained samples, the midpoint
// of its bounds (the first bucket's from 0, the +Inf bucket at the last
// finite bound), with the samples it gained — next to its _count and
// _sum; the document is exactly this, byte for byte.
func TestHistogramDistributionDocument(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "imagegate_op_seconds", Help: "h", Buckets: []float64{0.1, 1, 10}})
	reg.MustRegister(h)
	for _, v := range []float64{0.05, 0.5, 0.5, 5, 20} {
		h.Observe(v)
	}
	enc := NewEncoder(Options{Namespace: "ns"})
	docs, err := enc.Encode(time.UnixMilli(1000), gatherOf(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_aws":{"Timestamp":1000,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[[]],"Metrics":[` +
		`{"Name":"imagegate_op_seconds","Unit":"Seconds"},{"Name":"imagegate_op_seconds_count","Unit":"Count"},{"Name":"imagegate_op_seconds_sum","Unit":"Seconds"}]}]},` +
		`"imagegate_op_seconds":{"Values":[0.05,0.55,5.5,10],"Counts":[1,2,1,1],"Count":5,"Sum":26.05,"Min":0.05,"Max":10},` +
		`"imagegate_op_seconds_count":5,"imagegate_op_seconds_sum":26.05}`
	if len(docs) != 1 || string(docs[0]) != want {
		t.Fatalf("documents:\n%s\nwant:\n%s", docs, want)
	}
	if err := validateEMF(docs[0]); err != nil {
		t.Fatal(err)
	}

	// The next interval: only what was added — one sample in (1, 10] —
	// and nothing (no distribution) once the histogram is quiet.
	h.Observe(2)
	docs, err = enc.Encode(time.UnixMilli(2000), gatherOf(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	if d := distributionIn(t, docs[0], "imagegate_op_seconds"); d == nil || fmt.Sprint(d.Values, d.Counts, d.Count, d.Min, d.Max) != "[5.5] [1] 1 2 5.5" {
		t.Fatalf("second interval: %+v", d)
	}
	docs, err = enc.Encode(time.UnixMilli(3000), gatherOf(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	if d := distributionIn(t, docs[0], "imagegate_op_seconds"); d != nil {
		t.Fatalf("a quiet interval sent a distribution: %+v", d)
	}
}

// TestHistogramDistributionFromARegistry: a real registry's request
// duration histogram (Prometheus' default buckets, series by label added
// up by a dimension allowlist) gives one distribution per route whose
// counts add up to the requests, from which a percentile lands in the
// right bucket.
func TestHistogramDistributionFromARegistry(t *testing.T) {
	m := newTestMetrics(t)
	for i := range 100 {
		status := "200"
		if i%10 == 0 {
			status = "500"
		}
		d := 20 * time.Millisecond // bucket (0.01, 0.025]
		if i >= 95 {
			d = 3 * time.Second // bucket (2.5, 5]
		}
		m.request("blob", "GET", status, d)
	}
	enc := NewEncoder(Options{Namespace: "ns", Metrics: []string{"imagegate_http_request_duration_seconds"}, Dimensions: []string{"route"}})
	docs, err := enc.Encode(time.Now(), m.gather(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1 (route=blob)", len(docs))
	}
	d := distributionIn(t, docs[0], "imagegate_http_request_duration_seconds")
	if d == nil || d.Count != 100 || fmt.Sprint(d.Values, d.Counts) != "[0.0175 3.75] [95 5]" {
		t.Fatalf("distribution %+v", d)
	}
	if p50, p99 := percentile(d, 0.5), percentile(d, 0.99); p50 != 0.0175 || p99 != 3.75 {
		t.Fatalf("p50 %v, p99 %v: want 0.0175 and 3.75", p50, p99)
	}
}

// TestHistogramDistributionBounded: a histogram with more than 100
// buckets that gained samples is sent in at most MaxDistributionValues
// values, its counts and count kept.
func TestHistogramDistributionBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "imagegate_wide_bytes", Help: "h", Buckets: prometheus.LinearBuckets(1, 1, 250)})
	reg.MustRegister(h)
	for v := range 260 {
		h.Observe(float64(v) + 0.5)
	}
	docs, err := NewEncoder(Options{Namespace: "ns"}).Encode(time.Now(), gatherOf(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := validateEMF(docs[0]); err != nil {
		t.Fatal(err)
	}
	d := distributionIn(t, docs[0], "imagegate_wide_bytes")
	total := 0.0
	for _, c := range d.Counts {
		total += c
	}
	if len(d.Values) > MaxDistributionValues || total != 260 || d.Count != 260 {
		t.Fatalf("%d values adding up to %v (Count %v)", len(d.Values), total, d.Count)
	}
}

// TestManyDistributionsSplit: 90 metrics fit one directive, but 30
// distributions of 100 values may not fit one document: they are split
// by size, each document valid.
func TestManyDistributionsSplit(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := range 30 {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: fmt.Sprintf("imagegate_h%02d_seconds", i), Help: "h",
			Buckets: prometheus.ExponentialBuckets(1e-9, 1.3, MaxDistributionValues-1)})
		for b := range MaxDistributionValues {
			h.Observe(1e-9 * math.Pow(1.3, float64(b)-0.5))
		}
		reg.MustRegister(h)
	}
	docs, err := NewEncoder(Options{Namespace: "ns"}).Encode(time.Now(), gatherOf(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 2 {
		t.Fatalf("%d documents, want the 30 distributions split", len(docs))
	}
	for _, d := range docs {
		if err := validateEMF(d); err != nil {
			t.Fatal(err)
		}
	}
	if d := distributionIn(t, docs[0], "imagegate_h00_seconds"); d == nil || len(d.Values) != MaxDistributionValues {
		t.Fatalf("imagegate_h00_seconds: %+v, want %d values", d, MaxDistributionValues)
	}
}

func gatherOf(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	f, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// distributionIn returns the distribution member name of doc, nil if none.
func distributionIn(t *testing.T, doc []byte, name string) *distribution {
	t.Helper()
	var root map[string]json.RawMessage
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	raw, ok := root[name]
	if !ok {
		return nil
	}
	var d distribution
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %s is not a distribution: %v", name, raw, err)
	}
	return &d
}

// percentile is the value at quantile q of d, as CloudWatch reads it from
// Values and Counts (the smallest value with at least q of the samples).
func percentile(d *distribution, q float64) float64 {
	seen := 0.0
	for i, c := range d.Counts {
		seen += c
		if seen >= math.Ceil(q*d.Count) {
			return d.Values[i]
		}
	}
	return math.NaN()
}
