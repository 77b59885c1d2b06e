package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/emf"
)

// WithEMFWriter sends the embedded-metric-format lines (log.emf) to w
// instead of standard output, where the logs go.
func WithEMFWriter(w io.Writer) Option { return func(o *options) { o.emfOut = w } }

// emfEmitter writes, every interval, the metrics of gather as CloudWatch
// EMF lines (package internal/emf) to out, one document per line.
type emfEmitter struct {
	gather   prometheus.Gatherer
	encoder  *emf.Encoder
	out      io.Writer
	interval time.Duration
	logger   *slog.Logger
}

// newEMFEmitter returns the emitter c configures, nil when c is off.
func newEMFEmitter(c config.EMF, gather prometheus.Gatherer, out io.Writer, replica string, logger *slog.Logger) *emfEmitter {
	if !c.Enabled {
		return nil
	}
	if out == nil {
		out = os.Stdout
	}
	interval := c.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	ns := c.Namespace
	if ns == "" {
		ns = "imagegate"
	}
	return &emfEmitter{gather: gather, out: out, interval: interval, logger: logger,
		encoder: emf.NewEncoder(emf.Options{Namespace: ns, Metrics: c.Metrics, Dimensions: c.Dimensions,
			Properties: map[string]string{"replica": replica}})}
}

// run emits every interval until ctx ends, and once more then, so that
// the last interval's increase is not lost at shutdown.
func (e *emfEmitter) run(ctx context.Context) {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.emitLogged()
			return
		case <-t.C:
			e.emitLogged()
		}
	}
}

func (e *emfEmitter) emitLogged() {
	if err := e.emit(time.Now()); err != nil {
		e.logger.Warn("embedded metric format output failed", "error", err.Error())
	}
}

// emit gathers the metrics and writes their EMF documents at now.
func (e *emfEmitter) emit(now time.Time) error {
	families, err := e.gather.Gather()
	if err != nil && len(families) == 0 {
		return fmt.Errorf("registry: gathering metrics for EMF: %w", err)
	}
	docs, err := e.encoder.Encode(now, families)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if _, err := e.out.Write(append(d, '\n')); err != nil {
			return fmt.Errorf("registry: writing EMF: %w", err)
		}
	}
	return nil
}
