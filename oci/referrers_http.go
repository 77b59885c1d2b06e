package oci

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultPageSize bounds a referrers page: about 300 KB of descriptors,
// well under the 4 MiB clients accept for an index.
const defaultPageSize = 1000

// HeaderFiltersApplied names the filters a referrers response applied.
const HeaderFiltersApplied = "OCI-Filters-Applied"

// serveReferrers answers GET /v2/<name>/referrers/<digest>[?artifactType=]
// with an image index of the subject's referrers — empty, not 404, when
// there are none — pull-authorized like the manifests it describes. A
// subject with more than PageSize referrers is paged: the Link header
// names the next page (?last=<digest of this page's last entry>).
func (h *Handler) serveReferrers(w http.ResponseWriter, r *http.Request, rt route) {
	if h.opts.AllowPull != nil && !h.opts.AllowPull(w, r, rt.repo) {
		return
	}
	if _, err := reference.WithName(rt.repo); err != nil {
		serveError(w, errcode.ErrorCodeNameInvalid.WithDetail(map[string]string{"name": rt.repo, "reason": err.Error()}))
		return
	}
	subject, err := digest.Parse(rt.ref)
	if err != nil {
		serveError(w, errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{"digest": rt.ref, "reason": err.Error()}))
		return
	}
	q := r.URL.Query()
	artifactType := q.Get("artifactType")
	page, more, err := h.referrers.Page(r.Context(), rt.repo, subject, artifactType, q.Get("last"), h.opts.PageSize)
	if err != nil {
		h.internalError(w, r, "listing referrers failed", err)
		return
	}

	index := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: page}
	body, err := json.Marshal(index)
	if err != nil {
		h.internalError(w, r, "encoding referrers failed", err)
		return
	}
	w.Header().Set("Content-Type", v1.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if artifactType != "" {
		w.Header().Set(HeaderFiltersApplied, "artifactType")
	}
	if more {
		next := url.Values{"last": {page[len(page)-1].Digest.String()}}
		if artifactType != "" {
			next.Set("artifactType", artifactType)
		}
		w.Header().Set("Link", "<"+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
