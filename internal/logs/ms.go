package logs

import (
	"log/slog"
	"strings"
	"time"
)

// Ms is the attribute key = d in milliseconds, a number with microsecond
// precision. Name the key *_ms ("duration_ms", "retry_in_ms"): a
// time.Duration logged as is would be an integer of nanoseconds, and
// d.String() a text no log system can compare.
func Ms(key string, d time.Duration) slog.Attr {
	return slog.Float64(key, Millis(d))
}

// Millis is d in milliseconds with microsecond precision.
func Millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// msAttr rewrites a time.Duration attribute that escaped Ms into one: key
// gains the _ms suffix (unless it has it) and the value becomes
// milliseconds. Other attributes are returned unchanged; groups are
// rewritten member by member.
func msAttr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		key := a.Key
		if !strings.HasSuffix(key, "_ms") {
			key += "_ms"
		}
		return Ms(key, a.Value.Duration())
	case slog.KindGroup:
		members := a.Value.Group()
		out := make([]slog.Attr, len(members))
		for i, m := range members {
			out[i] = msAttr(m)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	return a
}
