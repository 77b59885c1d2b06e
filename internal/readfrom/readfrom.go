// Package readfrom lets a writer that wraps another keep the wrapped
// one's io.ReaderFrom: a response writer that counts what it sends must
// not turn a sendfile(2) into a read-and-write copy.
package readfrom

import "io"

// Through copies src to w: by w's own ReadFrom when it has one (an
// *http.response's is sendfile for an *os.File), else by a plain copy
// that never calls back into the caller's ReadFrom. The caller, a
// wrapper's ReadFrom, passes the writer it wraps as w.
func Through(w io.Writer, src io.Reader) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w}, src)
}

// writerOnly hides a ReaderFrom so that io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }
