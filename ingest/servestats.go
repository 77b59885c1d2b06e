package ingest

import (
	"io"
	"net/http"

	"github.com/imagegate/imagegate/internal/readfrom"
)

// ServeStats counts the blob GETs and HEADs ServeBlob answered from an
// *os.File (sendfile), since distribution was created: Responses of them
// and the body Bytes they sent (0 for a HEAD or a 304; the range's for a
// 206). These are the bytes distribution's own response-size histogram
// (registry_http_response_size_bytes{handler="blob"}) and its "response
// completed" line count as 0 for such a response: its writers have no
// ReadFrom, so the body goes around them (sendfileWriter).
type ServeStats struct {
	Responses, Bytes uint64
}

// ServeStats returns the counts so far (safe for concurrent use).
func (in *Ingester) ServeStats() ServeStats {
	return ServeStats{Responses: uint64(in.served.Load()), Bytes: uint64(in.servedBytes.Load())}
}

// countingWriter counts the body bytes written through it, by Write or
// ReadFrom, into n; ReadFrom goes to the wrapped writer's ReadFrom when
// it has one (sendfile), else it is a plain copy.
type countingWriter struct {
	http.ResponseWriter
	n *int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	*w.n += int64(n)
	return n, err
}

func (w countingWriter) ReadFrom(src io.Reader) (int64, error) {
	n, err := readfrom.Through(w.ResponseWriter, src)
	*w.n += n
	return n, err
}
