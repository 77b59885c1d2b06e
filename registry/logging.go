package registry

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/sirupsen/logrus"
)

// NewLogger returns imagegate's JSON logger writing to w at level
// (debug, info, warn or error; anything else means info).
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// foldDistributionLogs routes distribution's logrus output into logger, so
// that the process writes one JSON stream. logrus is process-global: the
// last server created in a process owns it.
func foldDistributionLogs(logger *slog.Logger) {
	logrus.SetOutput(io.Discard)
	logrus.SetFormatter(&slogFormatter{logger: logger.With("component", "distribution")})
	logrus.SetLevel(logrus.TraceLevel) // the slog handler filters by level
}

// slogFormatter re-emits each logrus entry as a slog record and hands an
// empty line back to logrus (whose output is discarded).
type slogFormatter struct{ logger *slog.Logger }

// droppedMessages repeat what imagegate's access log already says.
var droppedMessages = map[string]bool{"response completed": true}

func (f *slogFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if droppedMessages[e.Message] {
		return nil, nil
	}
	level := logrusToSlog(e.Level)
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if !f.logger.Enabled(ctx, level) {
		return nil, nil
	}
	attrs := make([]slog.Attr, 0, len(e.Data))
	for k, v := range e.Data {
		if k == "go.version" {
			continue
		}
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	f.logger.LogAttrs(ctx, level, strings.TrimSpace(e.Message), attrs...)
	return nil, nil
}

func logrusToSlog(l logrus.Level) slog.Level {
	switch {
	case l <= logrus.ErrorLevel:
		return slog.LevelError
	case l == logrus.WarnLevel:
		return slog.LevelWarn
	case l == logrus.InfoLevel:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}
