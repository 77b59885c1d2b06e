package ingest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"time"

	"github.com/opencontainers/go-digest"
)

// FileOpener is a storage driver that hands out a stored file as an
// *os.File (storagedriver/fs), which net/http sends with sendfile(2).
type FileOpener interface {
	OpenFile(path string) (*os.File, error)
}

// blobCacheMaxAge is distribution's Cache-Control for blobs
// (registry/storage/blobserver.go).
const blobCacheMaxAge = 365 * 24 * time.Hour

// ServeBlob implements distribution.BlobServer as distribution's blob
// server does — the repository's link is checked first (Stat of the
// repository's blob store: a blob this repository does not link is
// unknown here, whoever else holds it), then the same headers and
// http.ServeContent (ranges, HEAD, If-None-Match) — but over the blob's
// *os.File, so that the body goes out with sendfile(2) where every
// response writer on the way passes io.ReaderFrom through. Without a
// FileOpener driver, or when the file is not where distribution keeps it,
// distribution serves the blob. Each response served here is counted in
// ServeStats, with its body's bytes. (distribution's "blob pulled" event, sent
// by its notification listener below this middleware, is not sent for the
// blobs served here; imagegate configures no distribution endpoint.)
func (b *blobStore) ServeBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, dgst digest.Digest) error {
	opener, ok := b.in.driver.(FileOpener)
	if !ok {
		return b.BlobStore.ServeBlob(ctx, w, r, dgst)
	}
	desc, err := b.BlobStore.Stat(ctx, dgst)
	if err != nil {
		return err
	}
	p, err := BlobDataPath(desc.Digest)
	if err != nil {
		return err
	}
	f, err := opener.OpenFile(p)
	if err != nil {
		return b.BlobStore.ServeBlob(ctx, w, r, dgst)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != desc.Size {
		return b.BlobStore.ServeBlob(ctx, w, r, dgst)
	}
	h := w.Header()
	h.Set("ETag", fmt.Sprintf(`"%s"`, desc.Digest))
	h.Set("Cache-Control", fmt.Sprintf("max-age=%.f", blobCacheMaxAge.Seconds()))
	if h.Get("Docker-Content-Digest") == "" {
		h.Set("Docker-Content-Digest", desc.Digest.String())
	}
	mediaType := desc.MediaType
	if mediaType == "" {
		mediaType = "application/octet-stream"
	}
	h.Set("Content-Type", mediaType)
	if h.Get("Content-Length") == "" {
		h.Set("Content-Length", fmt.Sprint(desc.Size))
	}
	var sent int64
	http.ServeContent(countingWriter{ResponseWriter: sendfileWriter(w), n: &sent}, r, desc.Digest.String(), time.Time{}, f)
	b.in.served.Add(1)
	b.in.servedBytes.Add(sent)
	return nil
}

// readerFromWriter is a response writer whose headers, status and Write
// go through w, and whose ReadFrom goes to rf, the writer w wraps.
type readerFromWriter struct {
	http.ResponseWriter
	rf io.ReaderFrom
}

func (w readerFromWriter) ReadFrom(src io.Reader) (int64, error) { return w.rf.ReadFrom(src) }

// maxUnwrap bounds how many response writers sendfileWriter looks through.
const maxUnwrap = 4

// sendfileWriter returns w if it passes io.ReaderFrom through; else a
// writer whose headers and status still go through w but whose body goes
// to the first writer below w that has ReadFrom, looking through at most
// maxUnwrap writers by their Unwrap method or their exported
// ResponseWriter field. Inside distribution's App those are its
// instrumented writer (unexported, no ReadFrom) and, with debug metrics,
// Prometheus' delegators around it: they then count the status but not
// the body's bytes (distribution's "response completed" log line and its
// response-size histogram say 0 for a blob GET; imagegate's access log
// and metrics, outside the App, count them). Without such a writer below,
// w is returned as it is (the body is copied, correctly, without
// sendfile).
func sendfileWriter(w http.ResponseWriter) http.ResponseWriter {
	if _, ok := w.(io.ReaderFrom); ok {
		return w
	}
	inner := w
	for range maxUnwrap {
		if inner = unwrapWriter(inner); inner == nil {
			return w
		}
		if rf, ok := inner.(io.ReaderFrom); ok {
			return readerFromWriter{ResponseWriter: w, rf: rf}
		}
	}
	return w
}

// unwrapWriter returns the writer w wraps, or nil.
func unwrapWriter(w http.ResponseWriter) http.ResponseWriter {
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		return u.Unwrap()
	}
	v := reflect.ValueOf(w)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	field := v.Elem().FieldByName("ResponseWriter")
	if !field.IsValid() || !field.CanInterface() {
		return nil
	}
	inner, _ := field.Interface().(http.ResponseWriter)
	return inner
}
