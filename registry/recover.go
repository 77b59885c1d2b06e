package registry

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/internal/reqctx"
)

// recoverPanics turns a panic in next into a logged error with its stack
// and, when nothing was written yet, a 500 UNKNOWN OCI error, instead of a
// dropped connection. http.ErrAbortHandler keeps its meaning.
func recoverPanics(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &responseRecorder{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			logger.ErrorContext(r.Context(), "handler panic", "request_id", reqctx.ID(r.Context()),
				"panic", p, "stack", string(debug.Stack()))
			if rec.status == 0 {
				errcodes.Serve(rec, errcode.ErrorCodeUnknown.WithDetail("internal error; see the server log for this request id"))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
