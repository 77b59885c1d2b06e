package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/errcodes"
)

// maxCatalogPage bounds the catalog page buffered for filtering (a page
// holds at most 1,000 names).
const maxCatalogPage = 4 << 20

// Catalog filtering bounds: pages after the first are read
// catalogScanEntries names at a time (distribution's catalog.maxentries,
// set in config/distribution.go), and one request reads at most
// maxCatalogRounds pages.
const (
	defaultCatalogEntries = 100 // distribution's page size when n is absent
	catalogScanEntries    = 1000
	maxCatalogRounds      = 20
)

// filterCatalog wraps next so that /v2/_catalog lists only repositories
// the caller may pull (per filter). It reads distribution's pages until it
// has n visible names or the list ends, and writes its own Link header
// naming the last name it returned — never a name the caller may not see
// (distribution's Link names the last name of the unfiltered page). A
// page it cannot read is refused (503), never passed on unfiltered. A
// caller who may see nothing within maxCatalogRounds pages past its
// cursor gets an empty last page.
func filterCatalog(next http.Handler, filter func(r *http.Request) func(repo string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/_catalog" || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		n := defaultCatalogEntries
		if v := r.URL.Query().Get("n"); v != "" {
			n, _ = strconv.Atoi(v) // distribution refuses a bad n on the first page
		}
		keep := filter(r)
		var visible []string
		req := r
		for round := 0; round < maxCatalogRounds; round++ {
			buf := &bufferedResponse{header: http.Header{}}
			next.ServeHTTP(buf, req)
			if buf.status != http.StatusOK {
				if round == 0 { // an error answer (bad n, no token) names no repository
					buf.copyTo(w, buf.body.Bytes())
					return
				}
				errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the catalog could not be read"))
				return
			}
			var page struct {
				Repositories []string `json:"repositories"`
			}
			if buf.body.Len() > maxCatalogPage || json.Unmarshal(buf.body.Bytes(), &page) != nil {
				errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the catalog could not be filtered"))
				return
			}
			for _, repo := range page.Repositories {
				if keep(repo) {
					visible = append(visible, repo)
				}
			}
			more := buf.header.Get("Link") != "" && len(page.Repositories) > 0
			if len(visible) > n || !more {
				if len(visible) > n {
					visible, more = visible[:n], true
				}
				writeCatalog(w, r, visible, n, more)
				return
			}
			if len(visible) == n {
				writeCatalog(w, r, visible, n, true)
				return
			}
			req = catalogPageRequest(r, page.Repositories[len(page.Repositories)-1])
		}
		writeCatalog(w, r, visible, n, len(visible) > 0)
	})
}

// catalogPageRequest is r asking distribution for the full page after last.
func catalogPageRequest(r *http.Request, last string) *http.Request {
	u := *r.URL
	u.RawQuery = url.Values{"n": {strconv.Itoa(catalogScanEntries)}, "last": {last}}.Encode()
	next := r.Clone(r.Context())
	next.URL = &u
	next.RequestURI = u.RequestURI()
	return next
}

// writeCatalog answers a filtered page; with more, a Link to the page
// after its last name.
func writeCatalog(w http.ResponseWriter, r *http.Request, repos []string, n int, more bool) {
	if repos == nil {
		repos = []string{}
	}
	if more && len(repos) > 0 {
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {repos[len(repos)-1]}}
		w.Header().Set("Link", `<`+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	body, _ := json.Marshal(map[string][]string{"repositories": repos})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// bufferedResponse holds a response so that it can be rewritten.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter, body []byte) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(body)
}
