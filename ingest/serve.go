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
// distribution serves the blob.
func (b *blobStore) ServeBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, dgst digest.Digest) error {
	opener, ok := b.in.driver.(FileOpener)
	if !ok {
		return b.BlobStore.ServeBlob(ctx, w, r, dgst)
	}
	desc, err := b.BlobStore.Stat(ctx, dgst)
	if err != nil {
		return err
	}
	p, err := blobDataPath(desc.Digest)
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
	b.in.served.Add(1)
	http.ServeContent(sendfileWriter(w), r, desc.Digest.String(), time.Time{}, f)
	return nil
}

// readerFromWriter is a response writer whose headers, status and Write
// go through w, and whose ReadFrom goes to rf, the writer w wraps.
type readerFromWriter struct {
	http.ResponseWriter
	rf io.ReaderFrom
}

func (w readerFromWriter) ReadFrom(src io.Reader) (int64, error) { return w.rf.ReadFrom(src) }

// sendfileWriter returns w if it passes io.ReaderFrom through; else, when
// w is distribution's instrumented response writer (unexported, it keeps
// the request's status and byte count for distribution's logs, and has
// no ReadFrom), a writer that sends the body to the writer it wraps (its
// exported ResponseWriter field) while the status still goes through w.
// Anything else is returned as it is (the body is then copied, correctly,
// without sendfile).
func sendfileWriter(w http.ResponseWriter) http.ResponseWriter {
	if _, ok := w.(io.ReaderFrom); ok {
		return w
	}
	v := reflect.ValueOf(w)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return w
	}
	field := v.Elem().FieldByName("ResponseWriter")
	if !field.IsValid() || !field.CanInterface() {
		return w
	}
	if rf, ok := field.Interface().(io.ReaderFrom); ok {
		return readerFromWriter{ResponseWriter: w, rf: rf}
	}
	return w
}
