package logs

import (
	"log/slog"
	"math"
	"strings"
)

// ecsVersion is the Elastic Common Schema version the "ecs" format follows.
const (
	ecsVersionKey = "ecs.version"
	ecsVersion    = "8.11.0"
)

// ECSNames maps imagegate's plain field names to their Elastic Common
// Schema names. A field not listed here is written under "imagegate."
// (ECS's rule for custom fields), so that none collides with an ECS field
// of another type (ECS's "error" and "user" are objects, for instance).
// duration_ms becomes event.duration, which ECS counts in nanoseconds.
var ECSNames = map[string]string{
	slog.TimeKey:    "@timestamp",
	slog.LevelKey:   "log.level",
	slog.MessageKey: "message",
	"component":     "log.logger",
	RequestIDKey:    "http.request.id",
	"method":        "http.request.method",
	"status":        "http.response.status_code",
	"bytes_in":      "http.request.body.bytes",
	"bytes_out":     "http.response.body.bytes",
	"path":          "url.path",
	"remote_addr":   "client.address",
	"client_ip":     "client.ip",
	"user_agent":    "user_agent.original",
	"user":          "user.name",
	"error":         "error.message",
	"err":           "error.message",
	"error_code":    "error.code",
	"duration_ms":   "event.duration",
	ecsVersionKey:   ecsVersionKey,
}

// ecsPrefix holds every field ECS does not define.
const ecsPrefix = "imagegate."

// ecsReplace is the ReplaceAttr of the "ecs" format: top-level keys are
// renamed by ECSNames (or prefixed), the level is written in lower case and
// duration_ms in nanoseconds. Attributes inside groups keep their keys: the
// group's own key was already renamed.
func ecsReplace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	name, ok := ECSNames[a.Key]
	if !ok {
		a.Key = ecsPrefix + a.Key
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		if l, isLevel := a.Value.Any().(slog.Level); isLevel {
			return slog.String(name, strings.ToLower(l.String()))
		}
	case "duration_ms":
		switch a.Value.Kind() {
		case slog.KindFloat64:
			return slog.Int64(name, int64(math.Round(a.Value.Float64()*1e6)))
		case slog.KindInt64:
			return slog.Int64(name, a.Value.Int64()*1e6)
		}
	}
	a.Key = name
	return a
}
