package registry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// uploadMetrics count tarball uploads (POST /upload-image, POST
// /api/v1/uploads): how they ended, the bytes they sent and how long they
// took. The outcome is read from the answer's status: 2xx accepted, 4xx
// refused, 5xx failed — an asynchronous upload (202) counts as accepted
// when the server took it.
type uploadMetrics struct {
	uploads  *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	size     prometheus.Histogram
}

func newUploadMetrics(reg prometheus.Registerer) *uploadMetrics {
	m := &uploadMetrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "upload", Name: "uploads_total",
			Help: "Tarball uploads by outcome (accepted, refused, failed)."}, []string{"outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "upload", Name: "bytes_total",
			Help: "Request body bytes of tarball uploads, by outcome."}, []string{"outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "imagegate", Subsystem: "upload", Name: "duration_seconds",
			Help:    "Time of one tarball upload request, by outcome.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600}}, []string{"outcome"}),
		size: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "imagegate", Subsystem: "upload", Name: "size_bytes",
			Help:    "Request body bytes of one tarball upload.",
			Buckets: prometheus.ExponentialBuckets(1<<20, 4, 10)}), // 1 MiB … 256 GiB
	}
	reg.MustRegister(m.uploads, m.bytes, m.duration, m.size)
	return m
}

// wrap counts the uploads next serves.
func (m *uploadMetrics) wrap(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w}
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		next(rec, r)
		outcome := outcomeOfStatus(rec.statusCode())
		m.uploads.WithLabelValues(outcome).Inc()
		m.bytes.WithLabelValues(outcome).Add(float64(body.n))
		m.duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		m.size.Observe(float64(body.n))
	}
}

// outcomeOfStatus maps an HTTP status to accepted, refused or failed.
func outcomeOfStatus(status int) string {
	switch {
	case status < 400:
		return "accepted"
	case status < 500:
		return "refused"
	}
	return "failed"
}
