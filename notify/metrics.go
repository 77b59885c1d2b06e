package notify

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the notifier's Prometheus series. Label values are bounded:
// event types are a fixed set, endpoints are those configured.
type metrics struct {
	events     *prometheus.CounterVec
	lost       *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

// Delivery outcomes, the values of the outcome label.
const (
	outcomeDelivered = "delivered" // 2xx
	outcomeRetry     = "retry"     // failed; another attempt is scheduled
	outcomeDead      = "dead"      // failed for the last time; kept as a dead letter
	outcomeDropped   = "dropped"   // its endpoint is no longer configured
)

func newMetrics(reg prometheus.Registerer, box outbox) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "notifications", Name: "events_total",
			Help: "Events queued for at least one webhook endpoint, by type.",
		}, []string{"type"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "notifications", Name: "lost_total",
			Help: "Events that could not be written to the outbox, by type.",
		}, []string{"type"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "notifications", Name: "deliveries_total",
			Help: "Delivery attempts by endpoint and outcome (delivered, retry, dead, dropped).",
		}, []string{"endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "imagegate", Subsystem: "notifications", Name: "delivery_duration_seconds",
			Help:    "Time of one delivery request, by endpoint.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
	}
	if reg == nil {
		return m
	}
	gauge := func(state string, pick func(pending, dead int) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "imagegate", Subsystem: "notifications", Name: "outbox_deliveries",
			Help:        "Deliveries in the outbox: pending (waiting or retrying) and dead (given up).",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			p, d, err := box.counts(context.Background())
			if err != nil {
				return 0
			}
			return float64(pick(p, d))
		})
	}
	reg.MustRegister(m.events, m.lost, m.deliveries, m.duration,
		gauge("pending", func(p, _ int) int { return p }), gauge("dead", func(_, d int) int { return d }))
	return m
}
