package registry

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// requestIDHeader carries the request id in both directions.
const requestIDHeader = "X-Request-Id"

// clientRequestID is what a client-supplied id must look like to be kept.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe wraps next so that every request gets an id (the client's
// X-Request-Id when well-formed), echoed in the response; then it records
// the request in metrics and, when accessLog is set, writes one access line.
func observe(next http.Handler, logger *slog.Logger, m *httpMetrics, accessLog bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !clientRequestID.MatchString(id) {
			id = newRequestID()
		}
		info := &reqctx.Info{ID: id}
		w.Header().Set(requestIDHeader, id)
		rec := &responseRecorder{ResponseWriter: w}
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		r = r.WithContext(reqctx.With(r.Context(), info))

		next.ServeHTTP(rec, r)

		status := rec.statusCode()
		route := routeOf(r.URL.Path)
		elapsed := time.Since(start)
		m.observe(route, r.Method, status, body.n, rec.bytes, elapsed)
		if !accessLog {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes_in", body.n),
			slog.Int64("bytes_out", rec.bytes),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("remote_addr", r.RemoteAddr),
			slog.String("user_agent", r.UserAgent()),
		}
		if user := info.User(); user != "" {
			attrs = append(attrs, slog.String("user", user))
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}
