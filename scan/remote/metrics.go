package remote

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imagegate/imagegate/scan"
)

// PathMetrics serves a scanner's Prometheus metrics, without the bearer
// secret (like PathHealthz: counts and DB state, no image content).
const PathMetrics = "/metrics"

var _ scan.Queue = (*Server)(nil)

// QueueStats implements scan.Queue: the server's workers and queue
// (ServerOptions.Workers, Queue), and the waits of the scans that queued.
func (s *Server) QueueStats() scan.QueueStats {
	running, waiting := s.admit.load()
	return scan.QueueStats{Workers: cap(s.admit.slots), Running: running, Waiting: waiting,
		Waits: s.admit.waits.Load(), WaitSeconds: time.Duration(s.admit.waitNanos.Load()).Seconds()}
}

// scanOnly hides the optional interfaces of a Scanner (its own queue,
// which the server's admission keeps empty) from scan.Metered.
type scanOnly struct{ scan.Scanner }

// newMetrics counts the server's scans (scan.Metered over its scanner) and
// exports its admission queue, on a registry of its own; it returns the
// metered scanner and the /metrics handler.
func newMetrics(s *Server) (scan.Scanner, http.Handler, error) {
	reg := prometheus.NewRegistry()
	metered, err := scan.Metered(scanOnly{s.opts.Scanner}, reg, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := reg.Register(scan.QueueCollector(s, nil)); err != nil {
		return nil, nil, fmt.Errorf("scan/remote: registering metrics: %w", err)
	}
	return metered, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
