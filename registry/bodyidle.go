package registry

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/internal/errcodes"
)

// limitBodyIdle wraps next so that a request body silent for idle is cut
// off: before each read of the body the connection's read deadline is
// moved to idle from now (nginx's client_body_timeout), so a body that
// keeps arriving may take as long as it needs, and one that stops (a
// slowloris on a blob PATCH, holding an upload tap, a storage writer's
// buffers and a connection) ends idle after its last byte. The request's
// error answer is then 408 BODY_TIMEOUT, whatever the handler made of the
// failed read (distribution answers 499 or 500 UNKNOWN), and the
// connection is closed. Once the body has ended the deadline is cleared;
// a handler that sets its own read deadline (shim's linger) owns it from
// then on. Requests without a body are passed through untouched.
func limitBodyIdle(next http.Handler, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
		r.Body = b
		tw := &bodyTimeoutWriter{ResponseWriter: w, body: b}
		next.ServeHTTP(tw, r)
		if b.timedOut.Load() && !tw.wrote {
			tw.WriteHeader(http.StatusRequestTimeout) // the handler answered nothing
		}
	})
}

// idleBody is a request body whose every read must start receiving within
// idle.
type idleBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	owned    atomic.Bool // the handler set its own read deadline
	ended    bool        // the body returned an error or EOF
	timedOut atomic.Bool
}

// Read moves the read deadline before reading, and clears it when the body
// ends (an armed deadline would cut net/http's background read of the
// next request, and with it the context of a handler still working).
func (b *idleBody) Read(p []byte) (int, error) {
	managed := !b.owned.Load() && !b.ended
	if managed {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle)) // unsupported (a test recorder): unbounded as before
	}
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		return n, nil
	}
	if isTimeout(err) && managed && !b.owned.Load() {
		b.timedOut.Store(true)
		err = fmt.Errorf("registry: request body silent for %s (http.bodyidletimeout): %w", b.idle, err)
	} else if managed && !b.owned.Load() {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	b.ended = true
	return n, err
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// bodyTimeoutWriter answers 408 BODY_TIMEOUT in place of the handler's
// error answer once the body timed out.
type bodyTimeoutWriter struct {
	http.ResponseWriter
	body     *idleBody
	wrote    bool // a status was written
	replaced bool // the handler's answer is discarded
}

func (w *bodyTimeoutWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if status < http.StatusBadRequest || !w.body.timedOut.Load() {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	h := w.ResponseWriter.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Connection", "close")
	errcodes.Serve(w.ResponseWriter, errcodes.BodyTimeout.WithDetail(map[string]any{
		"limit_seconds": w.body.idle.Seconds(),
		"reason":        fmt.Sprintf("no byte of the body arrived for %s (http.bodyidletimeout)", w.body.idle),
	}))
}

func (w *bodyTimeoutWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// SetReadDeadline hands the read deadline to the handler (through
// http.ResponseController): the body stops moving it.
func (w *bodyTimeoutWriter) SetReadDeadline(t time.Time) error {
	w.body.owned.Store(true)
	return http.NewResponseController(w.ResponseWriter).SetReadDeadline(t)
}

// Flush implements http.Flusher for handlers that stream their answer.
func (w *bodyTimeoutWriter) Flush() {
	if !w.replaced {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *bodyTimeoutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
