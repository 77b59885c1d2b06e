package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/internal/reqctx"
)

// requestIDHeader carries the request id in both directions.
const requestIDHeader = "X-Request-Id"

// clientRequestID is what a client-supplied id must look like to be kept:
// 8 to 128 characters a log line and a header carry unescaped. Anything
// else is replaced, never logged.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)

// distributionRequestKey is the context key through which distribution's
// request logger learns our request: distribution (dcontext) starts every
// request's logger from its default one plus ctx.Value("instance.id"), a
// plain string key, and so every line it logs for the request carries the
// value stored here — the request's reqctx.Info, which foldDistributionLogs
// turns back into our request_id. Its own "http.request.id" (a fresh UUID
// per request, not settable from outside) is dropped.
const distributionRequestKey = "instance.id"

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID is the client's X-Request-Id when well formed, else a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); clientRequestID.MatchString(id) {
		return id
	}
	return newRequestID()
}

// observe wraps next so that every request gets an id (requestID), echoed
// in the response and carried by every line logged for the request (ours
// through reqctx, distribution's through distributionRequestKey); then it
// records the request in metrics and, when accessLog is set, writes the
// request's one access line (accessAttrs).
func observe(next http.Handler, logger *slog.Logger, m *httpMetrics, accessLog bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqctx.Info{ID: requestID(r)}
		w.Header().Set(requestIDHeader, info.ID)
		rec := &responseRecorder{ResponseWriter: w}
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		ctx := reqctx.With(r.Context(), info)
		ctx = context.WithValue(ctx, distributionRequestKey, info) // a plain string key: distribution asks for exactly it
		r = r.WithContext(ctx)

		next.ServeHTTP(rec, r)

		status := rec.statusCode()
		route := routeOf(r.URL.Path)
		elapsed := time.Since(start)
		m.observe(route, r.Method, status, body.n, rec.bytes, elapsed)
		if accessLog {
			logger.LogAttrs(ctx, slog.LevelInfo, "request",
				accessAttrs(r, info, route, status, body.n, rec, elapsed)...)
		}
	})
}

// accessAttrs are the fields of an access line after request_id (which
// the logger adds from the context): method, route, path, status,
// bytes_in, bytes_out, duration_ms, remote_addr, user_agent; then, when
// known, user and auth_method (who authentication found), repository (from
// the path) and error_code (the first OCI error code of an error answer).
func accessAttrs(r *http.Request, info *reqctx.Info, route string, status int, in int64, rec *responseRecorder, elapsed time.Duration) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes_in", in),
		slog.Int64("bytes_out", rec.bytes),
		logs.Ms("duration_ms", elapsed),
		slog.String("remote_addr", r.RemoteAddr),
		slog.String("user_agent", r.UserAgent()),
	}
	if id := info.Identity(); id.Subject != "" {
		attrs = append(attrs, slog.String("user", id.Subject))
		if id.Method != "" {
			attrs = append(attrs, slog.String("auth_method", id.Method))
		}
	}
	if repo := repositoryOf(r.URL.Path); repo != "" {
		attrs = append(attrs, slog.String("repository", repo))
	}
	if code := rec.errorCode(); code != "" {
		attrs = append(attrs, slog.String("error_code", code))
	}
	return attrs
}

// repositoryMarkers end a repository name in a /v2/ path.
var repositoryMarkers = []string{"/blobs/", "/manifests/", "/tags/", "/referrers/"}

// repositoryName is the shape of a repository name (distribution's
// grammar, loosely): what repositoryOf returns, nothing else.
var repositoryName = regexp.MustCompile(`^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$`)

// repositoryOf is the repository a /v2/<name>/{blobs,manifests,tags,
// referrers}/… path names, "" for any other path or a malformed name. The
// last marker wins: what follows it (a reference, a digest, an upload id,
// "list") holds no slash-delimited marker, while a name may ("a/tags/b").
func repositoryOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	end := -1
	for _, m := range repositoryMarkers {
		end = max(end, strings.LastIndex(rest, m))
	}
	if end <= 0 || end > 255 || !repositoryName.MatchString(rest[:end]) {
		return ""
	}
	return rest[:end]
}
