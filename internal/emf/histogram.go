package emf

import (
	"math"
	"slices"
	"strconv"
)

// MaxDistributionValues bounds the Values (and Counts) of one
// distribution: the specification's at most 100 values per metric.
const MaxDistributionValues = 100

// distribution is a histogram's increase over one interval as CloudWatch
// takes a distribution (the Values and Counts of PutMetricData, with the
// statistic set's Count, Sum, Min and Max), from which it computes
// percentiles: each bucket that gained samples is one value — its
// representative (bucketValue) — with the samples it gained as its count;
// Min and Max are the first and last values, widened to the interval's
// mean (Sum / Count) when it lies outside them.
type distribution struct {
	Values []float64 `json:"Values"`
	Counts []float64 `json:"Counts"`
	Count  float64   `json:"Count"`
	Sum    float64   `json:"Sum"`
	Min    float64   `json:"Min"`
	Max    float64   `json:"Max"`
}

// bucketValue is the value a bucket's samples are sent as: the midpoint
// of its bounds (lower, upper]; the first bucket's lower bound is 0 when
// its upper one is positive (else the bucket is sent at its upper bound),
// and the +Inf bucket is sent at the largest finite bound (lower), the
// least it holds.
func bucketValue(lower, upper float64, first bool) float64 {
	switch {
	case math.IsInf(upper, 1):
		return lower
	case first && upper > 0:
		return upper / 2
	case first:
		return upper
	}
	return lower + (upper-lower)/2
}

// addBuckets adds h's cumulative bucket counts into cum, by upper bound.
func addBuckets(cum map[float64]float64, bounds []float64, counts []uint64) map[float64]float64 {
	if cum == nil {
		cum = map[float64]float64{}
	}
	for i, b := range bounds {
		cum[b] += float64(counts[i])
	}
	return cum
}

// distributionOf is the distribution of the interval's increase of a
// histogram series (key): cum its cumulative bucket counts by finite
// upper bound, count and sum the increases of its sample count and sum.
// It returns nil when no sample was added, or when sum is not finite.
func (e *Encoder) distributionOf(key string, cum map[float64]float64, count, total float64) *distribution {
	if count <= 0 || math.IsNaN(total) || math.IsInf(total, 0) {
		return nil
	}
	bounds := slices.Sorted(mapsKeysFloat(cum))
	var values, counts []float64
	below, lower := 0.0, 0.0 // increase of the buckets below, their upper bound
	for i, b := range bounds {
		inc := e.increase(key+"_bucket{le="+strconv.FormatFloat(b, 'g', -1, 64)+"}", cum[b])
		if n := inc - below; n > 0 {
			values, counts = append(values, bucketValue(lower, b, i == 0)), append(counts, n)
		}
		below, lower = max(below, inc), b
	}
	if n := count - below; n > 0 {
		values, counts = append(values, bucketValue(lower, math.Inf(1), len(bounds) == 0)), append(counts, n)
	}
	if len(values) == 0 {
		return nil
	}
	values, counts = merge(values, counts, MaxDistributionValues)
	mean := total / count // within [Min, Max] whatever the buckets' representatives
	return &distribution{Values: values, Counts: counts, Count: count, Sum: total,
		Min: min(values[0], mean), Max: max(values[len(values)-1], mean)}
}

// merge returns values and counts (values ascending) in at most limit
// entries: runs of consecutive entries become one, at their
// count-weighted mean value with their total count.
func merge(values, counts []float64, limit int) ([]float64, []float64) {
	if len(values) <= limit {
		return values, counts
	}
	run := (len(values) + limit - 1) / limit
	var mv, mc []float64
	for i := 0; i < len(values); i += run {
		var weighted, n float64
		for j := i; j < min(i+run, len(values)); j++ {
			weighted += values[j] * counts[j]
			n += counts[j]
		}
		mv, mc = append(mv, weighted/n), append(mc, n)
	}
	return mv, mc
}

func mapsKeysFloat(m map[float64]float64) func(func(float64) bool) {
	return func(yield func(float64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
