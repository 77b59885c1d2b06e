package registry

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics counts requests by route, method and status. Routes are a
// fixed set (see routeOf), so label cardinality stays bounded.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	registry *prometheus.Registry
	disabled bool
}

// newHTTPMetrics registers the request metrics on a registry of their own;
// handler() serves them together with the process-wide default registry,
// where distribution registers its storage and HTTP metrics.
func newHTTPMetrics(enabled bool) *httpMetrics {
	labels := []string{"route", "method", "status"}
	m := &httpMetrics{
		registry: prometheus.NewRegistry(),
		disabled: !enabled,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests handled, by route, method and status.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "imagegate", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route, method and status.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, labels),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "http", Name: "request_bytes_total",
			Help: "Request body bytes read, by route, method and status.",
		}, labels),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "http", Name: "response_bytes_total",
			Help: "Response body bytes written, by route, method and status.",
		}, labels),
	}
	m.registry.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut)
	return m
}

func (m *httpMetrics) observe(route, method string, status int, in, out int64, d time.Duration) {
	if m.disabled {
		return
	}
	labels := prometheus.Labels{"route": route, "method": methodLabel(method), "status": strconv.Itoa(status)}
	m.requests.With(labels).Inc()
	m.duration.With(labels).Observe(d.Seconds())
	m.bytesIn.With(labels).Add(float64(in))
	m.bytesOut.With(labels).Add(float64(out))
}

// handler serves imagegate's and distribution's metrics.
func (m *httpMetrics) handler() http.Handler {
	gatherers := prometheus.Gatherers{m.registry, prometheus.DefaultGatherer}
	return promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{})
}

// methodLabel folds unexpected methods into one label value.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// routeOf names the endpoint a path addresses, from a fixed set.
func routeOf(path string) string {
	switch {
	case path == "/v2/" || path == "/v2":
		return "base"
	case path == "/v2/_catalog":
		return "catalog"
	case path == "/healthz", path == "/readyz":
		return strings.TrimPrefix(path, "/")
	case strings.HasPrefix(path, "/api/v1/pushes"):
		return "api_pushes"
	case strings.HasPrefix(path, "/api/v1/repositories/"):
		return "api_manifest"
	case path == "/upload-image", strings.HasPrefix(path, "/api/v1/uploads"):
		return "upload"
	case path == "/auth/token":
		return "token"
	case strings.HasPrefix(path, "/api/v1/"):
		return "api"
	case !strings.HasPrefix(path, "/v2/"):
		return "other"
	case strings.Contains(path, "/blobs/uploads"):
		return "blob_upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	}
	return "other"
}
