package registry

import (
	"net/http"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/distribution/reference"
	"github.com/gorilla/mux"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/internal/errcodes"
)

// v2Routes is distribution's route table, used only to tell whether a path
// is one distribution answers.
var v2Routes = v2.Router()

// explainBadRoute wraps next (distribution's app): a /v2/ path that matches
// none of distribution's routes would get a plain-text 404 from its router;
// instead it gets an OCI error saying what is wrong with it.
func explainBadRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var match mux.RouteMatch
		if v2Routes.Match(r, &match) {
			next.ServeHTTP(w, r)
			return
		}
		errcodes.Serve(w, diagnosePath(r.URL.Path))
	})
}

// rejectUncleanPaths wraps next so that a /v2/ or /api/v1/ path with "." or ".."
// segments or empty segments is refused as an invalid repository name,
// rather than redirected to its cleaned form (net/http's default), which
// could address another repository than the one the client named.
func rejectUncleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if (strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, api.Prefix)) && (strings.Contains(p, "//") || strings.Contains(p, "/./") ||
			strings.Contains(p, "/../") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
			errcodes.Serve(w, errcode.ErrorCodeNameInvalid.WithDetail(map[string]string{
				"path": p, "reason": "empty, . or .. path segments are not allowed"}))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// endpointMarkers split a /v2/ path into repository name and endpoint.
var endpointMarkers = []string{"/manifests/", "/blobs/uploads", "/blobs/", "/tags/list", "/referrers/"}

// diagnosePath explains why path names no endpoint: a malformed repository
// name, a malformed tag or digest, or no endpoint at all.
func diagnosePath(path string) error {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return errcodes.NotFound.WithDetail(map[string]string{"path": path})
	}
	for _, marker := range endpointMarkers {
		i := strings.LastIndex(rest, marker)
		if i < 0 {
			continue
		}
		name, ref := rest[:i], rest[i+len(marker):]
		if _, err := reference.WithName(name); err != nil {
			return errcode.ErrorCodeNameInvalid.WithDetail(map[string]string{"name": name, "reason": err.Error()})
		}
		switch marker {
		case "/manifests/":
			if strings.Contains(ref, ":") {
				if _, err := digest.Parse(ref); err != nil {
					return errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{"digest": ref, "reason": err.Error()})
				}
			}
			return errcode.ErrorCodeTagInvalid.WithDetail(map[string]string{"tag": ref, "reason": "a tag is up to 128 characters of [A-Za-z0-9_.-], not starting with . or -"})
		case "/blobs/", "/referrers/":
			if _, err := digest.Parse(ref); err != nil {
				return errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{"digest": ref, "reason": err.Error()})
			}
		}
		break
	}
	return errcodes.NotFound.WithDetail(map[string]string{"path": path})
}
