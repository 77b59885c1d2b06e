package pulls

import (
	"net/http"
	"strings"
)

// Observe notes in t every manifest GET next answers 200: the repository
// and reference from the path (/v2/<name>/manifests/<reference>), the
// digest from the Docker-Content-Digest header distribution sets, the tag
// when the reference is one. HEAD is not a pull (existence checks and
// tag pollers send it; the image is not fetched), nor is an error. It
// adds a path check and, for a manifest GET, a map update: no I/O.
func Observe(next http.Handler, t *Tracker) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		repo, ref, ok := manifestPath(r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusOK {
			return
		}
		d := w.Header().Get("Docker-Content-Digest")
		if d == "" {
			return
		}
		tag := ref
		if strings.IndexByte(ref, ':') >= 0 {
			tag = ""
		}
		t.Note(repo, d, tag)
	})
}

// manifestPath splits /v2/<name>/manifests/<reference>; a name may hold a
// "manifests" component, a reference holds no "/".
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	repo, ref = rest[:i], rest[i+len("/manifests/"):]
	if ref == "" || strings.IndexByte(ref, '/') >= 0 {
		return "", "", false
	}
	return repo, ref, true
}

// statusWriter remembers the status of a response; it forwards Flush and
// Unwrap (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
