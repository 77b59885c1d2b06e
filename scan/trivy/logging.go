package trivy

import (
	"context"
	"log/slog"

	tlog "github.com/aquasecurity/trivy/pkg/log"
)

// routeTrivyLogs fixes where Trivy's own logs go. Trivy logs through
// slog.Default, which its pkg/log replaces at init with a handler that
// buffers every record in memory until the Trivy CLI flushes it: in a
// server that is an unbounded leak. If the program has not set its own
// default since, routeTrivyLogs makes the default forward records at Warn
// and above to l (with component=trivy); a program that did set one keeps
// it and gets Trivy's logs there.
func routeTrivyLogs(l *slog.Logger) {
	d, ok := slog.Default().Handler().(*tlog.DeferredHandler)
	if !ok {
		return
	}
	h := minLevel{Handler: l.With("component", "trivy").Handler(), min: slog.LevelWarn}
	d.Flush(h)
	slog.SetDefault(slog.New(h))
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
