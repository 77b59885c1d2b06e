package registry

import (
	"io"
	"net/http"

	"github.com/imagegate/imagegate/internal/readfrom"
)

// responseRecorder remembers the status and counts the bytes of a response. It
// forwards Flush so that streamed responses keep streaming, and Unwrap so
// that http.ResponseController reaches the connection.
type responseRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	errs   errorBody // the start of an error answer (status ≥ 400)
}

func (r *responseRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *responseRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	if isError(r.status) {
		r.errs.keep(p[:n])
	}
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path while counting.
func (r *responseRecorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := readfrom.Through(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

func (r *responseRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusCode is the status sent, 200 when the handler wrote nothing.
func (r *responseRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// errorCode is the OCI error code of an error answer, "" otherwise.
func (r *responseRecorder) errorCode() string {
	if !isError(r.statusCode()) {
		return ""
	}
	return r.errs.code()
}

// countingBody counts the request body bytes the handlers read.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
