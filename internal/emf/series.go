package emf

import (
	"math"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// aggregate is the sum of a family's series that share dimension values.
type aggregate struct {
	dims    [][2]string
	dimsKey string
	value   float64             // counter, gauge, untyped
	count   float64             // histogram, summary
	sum     float64             // histogram, summary
	buckets map[float64]float64 // histogram: cumulative count by finite upper bound
}

// series adds up f's metrics by their kept labels (dimensionsOf), keyed
// by family name and dimension values.
func (e *Encoder) series(f *dto.MetricFamily) map[string]*aggregate {
	out := map[string]*aggregate{}
	for _, m := range f.GetMetric() {
		dims := e.dimensionsOf(m.GetLabel())
		dk := dimsKey(dims)
		key := f.GetName() + "{" + dk + "}"
		a := out[key]
		if a == nil {
			a = &aggregate{dims: dims, dimsKey: dk}
			out[key] = a
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			a.value += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			a.value += m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			a.value += m.GetUntyped().GetValue()
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			a.count += float64(h.GetSampleCount())
			a.sum += h.GetSampleSum()
			bounds, counts := make([]float64, 0, len(h.GetBucket())), make([]uint64, 0, len(h.GetBucket()))
			for _, b := range h.GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) { // +Inf is the sample count
					bounds, counts = append(bounds, b.GetUpperBound()), append(counts, b.GetCumulativeCount())
				}
			}
			a.buckets = addBuckets(a.buckets, bounds, counts)
		case dto.MetricType_SUMMARY:
			a.count += float64(m.GetSummary().GetSampleCount())
			a.sum += m.GetSummary().GetSampleSum()
		}
	}
	return out
}

// points are the CloudWatch values of one aggregate: a counter's
// increase, a gauge's value, a histogram's or summary's count and sum
// increases (name_count, name_sum) and, for a histogram that gained
// samples, the distribution of its bucket increases (name). key
// identifies the series across Encode calls.
func (a *aggregate) points(f *dto.MetricFamily, e *Encoder, key string) []point {
	name := f.GetName()
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		return []point{{name: name, unit: unitOf(name, "Count"), value: e.increase(key, a.value)}}
	case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY, dto.MetricType_GAUGE_HISTOGRAM:
		count, sum := e.increase(key+"_count", a.count), e.increase(key+"_sum", a.sum)
		points := []point{
			{name: name + "_count", unit: "Count", value: count},
			{name: name + "_sum", unit: unitOf(name, "None"), value: sum},
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			if d := e.distributionOf(key, a.buckets, count, sum); d != nil {
				points = append(points, point{name: name, unit: unitOf(name, "None"), dist: d})
			}
		}
		return points
	default:
		return []point{{name: name, unit: unitOf(name, "None"), value: a.value}}
	}
}

// increase is cur minus the value last seen for key (all of cur the
// first time, and after a reset made it smaller); it remembers cur.
func (e *Encoder) increase(key string, cur float64) float64 {
	prev, seen := e.prev[key]
	e.prev[key] = cur
	if !seen || cur < prev {
		return cur
	}
	return cur - prev
}

// unitOf is the CloudWatch unit the Prometheus base unit in name names
// (_seconds, _bytes), else fallback.
func unitOf(name, fallback string) string {
	switch {
	case strings.HasSuffix(name, "_seconds"), strings.Contains(name, "_seconds_"):
		return "Seconds"
	case strings.HasSuffix(name, "_bytes"), strings.Contains(name, "_bytes_"):
		return "Bytes"
	}
	return fallback
}

// dimensionsOf are the labels kept as dimensions, sorted by name, their
// values made acceptable to CloudWatch (dimensionValue).
func (e *Encoder) dimensionsOf(labels []*dto.LabelPair) [][2]string {
	var dims [][2]string
	for _, l := range labels {
		if len(e.opts.Dimensions) > 0 && !slices.Contains(e.opts.Dimensions, l.GetName()) {
			continue
		}
		dims = append(dims, [2]string{l.GetName(), dimensionValue(l.GetValue())})
	}
	slices.SortFunc(dims, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	if len(dims) > MaxDimensions {
		dims = dims[:MaxDimensions]
	}
	return dims
}

// dimensionValue is v as CloudWatch accepts a dimension value: printable
// ASCII (anything else becomes "_"), at most MaxDimensionValue characters,
// and "none" for an empty or blank value.
func dimensionValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '_'
		}
	}
	v = string(b)
	if len(v) > MaxDimensionValue {
		v = v[:MaxDimensionValue]
	}
	if strings.TrimSpace(v) == "" {
		return "none"
	}
	return v
}

// dimsKey identifies a set of dimension values.
func dimsKey(dims [][2]string) string {
	var b strings.Builder
	for _, d := range dims {
		b.WriteString(d[0] + "=" + d[1] + "\x00")
	}
	return b.String()
}
