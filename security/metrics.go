package security

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Monitor's counters.
type metrics struct {
	detections *prometheus.CounterVec // detector
	dropped    prometheus.Counter
	errors     prometheus.Counter
}

// newMetrics creates the counters and registers them on reg (nil: none).
// Every detector's series exists from the start at 0, so that alert rules
// can use increase() on a series that has never fired.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "security",
			Name: "detections_total", Help: "Suspicious-activity incidents detected, by detector (one per incident)."},
			[]string{"detector"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "security",
			Name: "events_dropped_total", Help: "Events not checked because the detectors' queue was full."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "security",
			Name: "store_errors_total", Help: "Events not checked because the shared store failed."}),
	}
	for _, d := range Detectors {
		m.detections.WithLabelValues(d)
	}
	if reg != nil {
		reg.MustRegister(m.detections, m.dropped, m.errors)
	}
	return m
}
