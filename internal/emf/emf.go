// Package emf turns Prometheus metric families into CloudWatch embedded
// metric format (EMF) documents: JSON log lines from which CloudWatch Logs
// extracts metrics, so that alarms on imagegate's metrics can live in
// CloudWatch (docs/logging.md). It follows AWS's "Specification: Embedded
// metric format": one root object with an "_aws" member holding the
// Timestamp (ms since the epoch) and CloudWatchMetrics directives
// (Namespace, Dimensions, Metrics), the dimension values and metric values
// as root members.
package emf

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Limits of the specification (and of CloudWatch) this encoder keeps.
const (
	MaxMetricsPerDirective = 100 // metric definitions in one directive
	MaxDimensions          = 9   // dimension keys in one set (the spec allows 30; alarms and agents are happier with 9)
	MaxDimensionValue      = 1024
	MaxNameLength          = 255
	MaxDocumentBytes       = 256 << 10 // a CloudWatch Logs event
)

// Options choose what Encode emits.
type Options struct {
	// Namespace of every metric (1–255 characters, not AWS/…).
	Namespace string
	// Metrics are the family names to emit; empty means every family
	// whose name starts with "imagegate_".
	Metrics []string
	// Dimensions are the labels kept as dimensions; series that differ
	// only in other labels are added up. Empty means every label of the
	// family (sorted, the first MaxDimensions).
	Dimensions []string
	// Properties are extra root members of every document (not
	// dimensions: they do not multiply metrics), e.g. the replica id.
	Properties map[string]string
}

// Encoder turns successive gathers into EMF documents. Counters and the
// count and sum of histograms and summaries are emitted as the increase
// since the previous Encode (the whole value the first time, or after a
// reset), so CloudWatch's Sum over a period is the Prometheus increase;
// a histogram's bucket increases also as a distribution (histogram.go),
// so CloudWatch's percentiles work; gauges as they are. It is not safe
// for concurrent use.
type Encoder struct {
	opts Options
	prev map[string]float64 // cumulative value last seen, by series key
}

// NewEncoder returns an Encoder with opts.
func NewEncoder(opts Options) *Encoder {
	return &Encoder{opts: opts, prev: map[string]float64{}}
}

// point is one CloudWatch metric value of one series: value, or dist
// when not nil.
type point struct {
	name  string
	unit  string
	value float64
	dist  *distribution
}

// finite reports whether p can be sent (NaN and infinities cannot).
func (p point) finite() bool {
	return p.dist != nil || (!math.IsNaN(p.value) && !math.IsInf(p.value, 0))
}

// size is an upper estimate of p's bytes in a document (its member and
// its definition).
func (p point) size() int {
	n := 2*len(p.name) + 64
	if p.dist != nil {
		n += 2*24*len(p.dist.Values) + 128
	}
	return n
}

// group is one document: the metrics that share a set of dimension values.
type group struct {
	dims   [][2]string // sorted by key
	points []point
}

// Encode returns the EMF documents of families at now, one JSON object
// each (no trailing newline), in a stable order: by dimension values, then
// metric name. A document holds at most MaxMetricsPerDirective metrics;
// non-finite values are skipped. A histogram's distribution is at most
// MaxDistributionValues values.
func (e *Encoder) Encode(now time.Time, families []*dto.MetricFamily) ([][]byte, error) {
	groups := map[string]*group{}
	for _, f := range families {
		if !e.selected(f.GetName()) {
			continue
		}
		for key, s := range e.series(f) {
			g := groups[s.dimsKey]
			if g == nil {
				g = &group{dims: s.dims}
				groups[s.dimsKey] = g
			}
			for _, p := range s.points(f, e, key) {
				if p.finite() {
					g.points = append(g.points, p)
				}
			}
		}
	}
	var docs [][]byte
	for _, k := range slices.Sorted(mapsKeys(groups)) {
		g := groups[k]
		slices.SortFunc(g.points, func(a, b point) int { return strings.Compare(a.name, b.name) })
		for chunk := range documentsOf(g.points) {
			doc, err := e.document(now, g.dims, chunk)
			if err != nil {
				return docs, err
			}
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

// documentsOf splits points into the runs that go in one document: at
// most MaxMetricsPerDirective, and (by point.size) at most half of
// MaxDocumentBytes, which leaves room for the dimensions and properties.
func documentsOf(points []point) func(func([]point) bool) {
	return func(yield func([]point) bool) {
		start, bytes := 0, 0
		for i, p := range points {
			if i > start && (i-start == MaxMetricsPerDirective || bytes+p.size() > MaxDocumentBytes/2) {
				if !yield(points[start:i]) {
					return
				}
				start, bytes = i, 0
			}
			bytes += p.size()
		}
		if start < len(points) {
			yield(points[start:])
		}
	}
}

// selected reports whether the family name is to be emitted.
func (e *Encoder) selected(name string) bool {
	if len(e.opts.Metrics) == 0 {
		return strings.HasPrefix(name, "imagegate_")
	}
	return slices.Contains(e.opts.Metrics, name)
}

// document is one EMF document of points under dims.
func (e *Encoder) document(now time.Time, dims [][2]string, points []point) ([]byte, error) {
	root := map[string]any{}
	for k, v := range e.opts.Properties {
		root[k] = v
	}
	keys := make([]string, 0, len(dims))
	for _, d := range dims {
		root[d[0]] = d[1]
		keys = append(keys, d[0])
	}
	defs := make([]metricDefinition, 0, len(points))
	for _, p := range points {
		root[p.name] = p.value
		if p.dist != nil {
			root[p.name] = p.dist
		}
		defs = append(defs, metricDefinition{Name: p.name, Unit: p.unit})
	}
	root["_aws"] = metadata{
		Timestamp: now.UnixMilli(),
		CloudWatchMetrics: []metricDirective{{
			Namespace: e.opts.Namespace, Dimensions: [][]string{keys}, Metrics: defs,
		}},
	}
	doc, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("emf: encoding a document: %w", err)
	}
	if len(doc) > MaxDocumentBytes {
		return nil, fmt.Errorf("emf: a document of %d bytes exceeds %d", len(doc), MaxDocumentBytes)
	}
	return doc, nil
}

// metadata is the "_aws" member.
type metadata struct {
	Timestamp         int64             `json:"Timestamp"`
	CloudWatchMetrics []metricDirective `json:"CloudWatchMetrics"`
}

// metricDirective tells CloudWatch which root members are metrics and
// dimensions.
type metricDirective struct {
	Namespace  string             `json:"Namespace"`
	Dimensions [][]string         `json:"Dimensions"`
	Metrics    []metricDefinition `json:"Metrics"`
}

// metricDefinition names one metric of the root and its unit.
type metricDefinition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit,omitempty"`
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
