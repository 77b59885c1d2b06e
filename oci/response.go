package oci

import (
	"bytes"
	"io"
	"net/http"
)

// headerHook is a ResponseWriter that calls hook once, just before the
// status line goes out, so that the headers can still be changed. The body
// streams through untouched.
type headerHook struct {
	http.ResponseWriter
	hook   func(status int, h http.Header)
	hooked bool
}

func (w *headerHook) WriteHeader(code int) {
	if !w.hooked && code >= 200 {
		w.hooked = true
		w.hook(code, w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerHook) Write(b []byte) (int, error) {
	if !w.hooked {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's fast path (sendfile) for blobs.
func (w *headerHook) ReadFrom(r io.Reader) (int64, error) {
	if !w.hooked {
		w.WriteHeader(http.StatusOK)
	}
	return io.Copy(w.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *headerHook) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher.
func (w *headerHook) Flush() {
	if !w.hooked {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// recorder holds a small response of an in-process request (a manifest
// PUT, an upload POST): headers, status and body, to be inspected and then
// relayed.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// relay writes the recorded response to w.
func (r *recorder) relay(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(r.body.Bytes())
}
