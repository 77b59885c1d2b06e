// Package logs builds imagegate's structured logger: one JSON object per
// line, every line logged inside a request carrying that request's id, and
// every duration a number of milliseconds in a field named *_ms. Field
// names are plain (time, level, msg, request_id, …) or, with format "ecs",
// Elastic Common Schema names (docs/logging.md).
package logs

import (
	"fmt"
	"io"
	"log/slog"
)

// Formats are the accepted log formats: "json" (plain field names, for
// CloudWatch Logs, Fluent Bit, Loki…) and "ecs" (Elastic Common Schema).
var Formats = []string{"json", "ecs"}

// New returns a logger writing JSON lines to w at level (debug, info, warn
// or error; anything else means info) in format ("" means json). It fails
// only on an unknown format.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	switch format {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "ecs":
		opts.ReplaceAttr = ecsReplace
		h = slog.NewJSONHandler(w, opts).WithAttrs([]slog.Attr{slog.String(ecsVersionKey, ecsVersion)})
	default:
		return nil, fmt.Errorf("logs: unknown format %q (want json or ecs)", format)
	}
	return slog.New(&Handler{next: h}), nil
}
