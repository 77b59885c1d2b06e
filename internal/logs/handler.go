package logs

import (
	"context"
	"log/slog"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// RequestIDKey is the field naming the request a line was logged in: the
// X-Request-Id the client sent (when well formed) or the one imagegate
// made, and answered in X-Request-Id.
const RequestIDKey = "request_id"

// Handler is the slog.Handler every imagegate logger runs through. It adds
// request_id to a record whose context carries a request (reqctx), first
// after the message, and turns time.Duration attributes into *_ms numbers
// (Ms); a request_id attribute of the caller's gives way to the
// context's. Everything else is next's: level, format, output.
type Handler struct {
	next slog.Handler
}

// Enabled reports whether next logs level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r to next with the request id and durations in ms.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	id := reqctx.ID(ctx)
	if id != "" {
		out.AddAttrs(slog.String(RequestIDKey, id))
	}
	r.Attrs(func(a slog.Attr) bool {
		if id != "" && a.Key == RequestIDKey {
			return true // the request's own id is already there
		}
		out.AddAttrs(msAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs returns a Handler whose attributes include attrs (durations in
// ms).
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	conv := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		conv[i] = msAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(conv)}
}

// WithGroup returns a Handler that nests later attributes under name.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}
