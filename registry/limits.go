package registry

import (
	"fmt"
	"net/http"

	"github.com/imagegate/imagegate/internal/errcodes"
)

// limitManifestBodies wraps next so that a manifest PUT declaring more than
// maxBytes is refused with 413 before its body is read, and one that
// streams more than maxBytes is cut off (distribution then answers
// MANIFEST_INVALID).
func limitManifestBodies(next http.Handler, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || routeOf(r.URL.Path) != "manifest" {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > maxBytes {
			errcodes.Serve(w, errcodes.ManifestTooLarge.WithDetail(map[string]any{
				"limit":  maxBytes,
				"actual": r.ContentLength,
				"reason": fmt.Sprintf("manifest is %d bytes; limits.manifestbytes allows %d", r.ContentLength, maxBytes),
			}))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
		next.ServeHTTP(w, r)
	})
}
