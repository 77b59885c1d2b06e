package oci

import (
	"context"
	"net/http"
	"sync"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// refusalKey carries a request's *refusal.
type refusalKey struct{}

// refusal is the OCI error a repository middleware refused a DELETE with.
// distribution's delete handlers answer any error of the manifest or tag
// service as 500 UNKNOWN (or 405); the Handler answers this one instead.
type refusal struct {
	mu  sync.Mutex
	err error
}

// Refuse records err (an errcode.Error or errcode.Errors) as the answer
// to the request ctx belongs to, when the Handler serves it, and returns
// err: a middleware returns Refuse(ctx, err) where it would return err.
func Refuse(ctx context.Context, err error) error {
	if r, ok := ctx.Value(refusalKey{}).(*refusal); ok {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return err
}

func (r *refusal) get() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// serveDelete passes a DELETE to distribution with room for a refusal:
// when a middleware recorded one (Refuse) and distribution answers an
// error, the client gets the refusal instead of distribution's answer.
func (h *Handler) serveDelete(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	ref := &refusal{}
	next(&refusalWriter{ResponseWriter: w, refusal: ref}, r.WithContext(context.WithValue(r.Context(), refusalKey{}, ref)))
}

// refusalWriter replaces an error answer by the recorded refusal.
type refusalWriter struct {
	http.ResponseWriter
	refusal *refusal
	// replaced: the refusal was written; the rest of the body is dropped.
	replaced, wrote bool
}

func (w *refusalWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if err := w.refusal.get(); err != nil && code >= http.StatusBadRequest {
		w.replaced = true
		w.Header().Del("Content-Length")
		_ = errcode.ServeJSON(w.ResponseWriter, err)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
