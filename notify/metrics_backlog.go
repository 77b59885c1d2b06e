package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// backlog exports, per configured endpoint, the deliveries this process
// holds and how long the oldest has waited: a growing age means the
// endpoint is down or too slow, long before the outbox fills.
type backlog struct {
	q         *queue
	endpoints []string
	now       func() time.Time
}

var (
	backlogQueuedDesc = prometheus.NewDesc("imagegate_notifications_queued",
		"Deliveries this process holds for an endpoint (pending or retrying).", []string{"endpoint"}, nil)
	backlogAgeDesc = prometheus.NewDesc("imagegate_notifications_oldest_queued_seconds",
		"Age of the oldest delivery this process holds for an endpoint; 0 when none.", []string{"endpoint"}, nil)
)

// registerBacklog registers the backlog gauges of eps' endpoints on reg
// (nil: none).
func registerBacklog(reg prometheus.Registerer, q *queue, eps []*endpoint) {
	if reg == nil {
		return
	}
	b := &backlog{q: q, now: time.Now}
	for _, e := range eps {
		b.endpoints = append(b.endpoints, e.Name)
	}
	reg.MustRegister(b)
}

func (b *backlog) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogQueuedDesc
	ch <- backlogAgeDesc
}

func (b *backlog) Collect(ch chan<- prometheus.Metric) {
	for _, name := range b.endpoints {
		ch <- prometheus.MustNewConstMetric(backlogQueuedDesc, prometheus.GaugeValue, float64(b.q.size(name)), name)
		age := 0.0
		if at, ok := b.q.oldest(name); ok {
			age = max(b.now().Sub(at).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(backlogAgeDesc, prometheus.GaugeValue, age, name)
	}
}
