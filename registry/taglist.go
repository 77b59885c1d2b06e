package registry

import (
	"net/http"
	"strconv"
	"strings"
)

// tagListPage is the most tags one GET /v2/<name>/tags/list answers when
// the client gives no n (distribution's tags.maxtags, which it applies
// only to an n the client gives; config/distribution.go sets both).
const tagListPage = 1000

// pageTagLists wraps next so that a tag list asked for without n is asked
// for with n=tagListPage: distribution then walks at most that many tags,
// answers them, and adds a Link to the next page when there may be more
// (the distribution spec lets a registry answer fewer than asked with a
// Link; crane, skopeo, containerd and docker follow it). Without it one
// request walked and answered every tag of the repository, however many
// a pusher made.
func pageTagLists(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/tags/list") || r.URL.Query().Has("n") {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		q := r2.URL.Query()
		q.Set("n", strconv.Itoa(tagListPage))
		r2.URL.RawQuery = q.Encode()
		r2.RequestURI = r2.URL.RequestURI()
		next.ServeHTTP(w, r2)
	})
}
