package registry

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/internal/reqctx"
)

// NewLogger returns imagegate's JSON logger (package internal/logs)
// writing to w at level (debug, info, warn or error; anything else means
// info), with plain field names.
func NewLogger(w io.Writer, level string) *slog.Logger {
	l, _ := logs.New(w, level, "json") // a known format cannot fail
	return l
}

// NewConfiguredLogger is NewLogger at c.Level in c.Format (json or ecs;
// config.Validate refuses others, which fall back to json here).
func NewConfiguredLogger(w io.Writer, c config.Log) *slog.Logger {
	l, err := logs.New(w, c.Level, c.Format)
	if err != nil {
		return NewLogger(w, c.Level)
	}
	return l
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
// empty line back to logrus (whose output is discarded). An entry logged
// for a request (it carries the request's reqctx.Info under
// distributionRequestKey, see observe) is logged in that request's context,
// so it carries our request_id; the fields the access line already has
// are dropped, and the lines that only repeat the access line or the auth
// service's audit line go to debug (distributionLevel).
type slogFormatter struct{ logger *slog.Logger }

func (f *slogFormatter) Format(e *logrus.Entry) ([]byte, error) {
	ctx := context.Background()
	info, inRequest := e.Data[distributionRequestKey].(*reqctx.Info)
	if inRequest {
		ctx = reqctx.With(ctx, info)
	}
	level, keep := distributionLevel(e)
	if !keep || !f.logger.Enabled(ctx, level) {
		return nil, nil
	}
	attrs := make([]slog.Attr, 0, len(e.Data))
	for k, v := range e.Data {
		if k == "go.version" || k == distributionRequestKey || (inRequest && accessLineFields(k)) {
			continue
		}
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		if name, ok := distributionFieldNames[k]; ok {
			k = name
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	f.logger.LogAttrs(ctx, level, strings.TrimSpace(e.Message), attrs...)
	return nil, nil
}

// distributionFieldNames renames distribution's request fields to the
// names imagegate's own lines use.
var distributionFieldNames = map[string]string{
	"vars.name":            "repository",
	"vars.reference":       "reference",
	"vars.digest":          "digest",
	"vars.uuid":            "upload_id",
	"auth.user.name":       "user",
	"http.response.status": "status",
	"err.code":             "error_code",
	"err.message":          "error",
	"err.detail":           "error_detail",
}

// accessLineFields are distribution's request fields the access line of
// the same request already has (method, path, host, user agent, remote
// address, content type, its own request id, duration as text, bytes).
func accessLineFields(k string) bool {
	return strings.HasPrefix(k, "http.request.") ||
		k == "http.response.duration" || k == "http.response.written" || k == "http.response.contenttype"
}

// distributionLevel is the level an entry is logged at, and whether it is
// logged at all:
//   - "response completed" (a success) repeats the access line: dropped;
//   - "authorized request" repeats the access line's user: debug;
//   - "error authorizing context: …" repeats the auth service's one audit
//     line for the same refusal: debug;
//   - "response completed with error" of a client error (status < 500:
//     blob unknown before an upload, manifest unknown on HEAD, denied…)
//     is an expected answer the access line records with its error_code:
//     debug; a server error stays an error;
//   - anything else keeps logrus's level.
func distributionLevel(e *logrus.Entry) (slog.Level, bool) {
	switch {
	case e.Message == "response completed":
		return 0, false
	case e.Message == "authorized request", strings.HasPrefix(e.Message, "error authorizing context"):
		return slog.LevelDebug, true
	case e.Message == "response completed with error":
		if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
			return slog.LevelDebug, true
		}
	}
	return logrusToSlog(e.Level), true
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
