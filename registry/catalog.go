package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// maxCatalogPage bounds the catalog page buffered for filtering (a page
// holds at most 1,000 names).
const maxCatalogPage = 4 << 20

// filterCatalog wraps next so that /v2/_catalog lists only repositories
// the caller may pull (per filter). Pages may come out shorter than asked;
// the Link header to the next page is kept.
func filterCatalog(next http.Handler, filter func(r *http.Request) func(repo string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/_catalog" || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		buf := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(buf, r)
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if buf.status != http.StatusOK || buf.body.Len() > maxCatalogPage || json.Unmarshal(buf.body.Bytes(), &page) != nil {
			buf.copyTo(w, buf.body.Bytes())
			return
		}
		keep := filter(r)
		visible := []string{}
		for _, repo := range page.Repositories {
			if keep(repo) {
				visible = append(visible, repo)
			}
		}
		body, _ := json.Marshal(map[string][]string{"repositories": visible})
		buf.copyTo(w, body)
	})
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
