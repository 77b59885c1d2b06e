package ui

import (
	"net/http"
	"regexp"

	"github.com/imagegate/imagegate/auth"
)

// uploadIDPattern is an upload id the UI forwards (the shim's own rule:
// 8 to 128 of A-Za-z0-9._-).
var uploadIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)

// csrfHeader carries the session's CSRF token on the upload's fetch (a
// cross-site form cannot set a header; a cross-site script cannot read
// the token).
const csrfHeader = "X-Csrf-Token"

// uploadView is the upload page's data.
type uploadView struct {
	Repository string
	// MaxBytes is upload.maxbytes (0: unknown), which the page's script
	// checks the file's size against before sending it.
	MaxBytes int64
}

// uploadForm answers GET /ui/upload: choose a file, repository and tag.
func (h *Handler) uploadForm(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.URL.Query().Get("repository")
	if !pathSafe(name) {
		name = ""
	}
	h.render(w, r, s, http.StatusOK, "upload", "Upload an image", uploadView{Repository: name, MaxBytes: h.opts.UploadMaxBytes})
}

// upload answers POST /ui/upload-image (the page's fetch, with the CSRF
// header): it is POST /upload-image itself — the same handler, limits,
// gate and answer — for the signed-in person instead of credentials.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, s *session) {
	if h.opts.Uploads == nil {
		h.renderError(w, r, s, http.StatusNotFound, "No uploads", "This server takes no tarball uploads.")
		return
	}
	if h.opts.Auth != nil && !sameToken(r.Header.Get(csrfHeader), s.CSRF) {
		h.refuseForgery(w, r, s)
		return
	}
	h.forward(w, r, s, "/upload-image")
}

// uploadEvents answers GET /ui/uploads/{id}/events: the upload's
// progress stream (GET /api/v1/uploads/{id}/events), for its uploader.
func (h *Handler) uploadEvents(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if h.opts.Uploads == nil || !uploadIDPattern.MatchString(id) {
		h.renderError(w, r, s, http.StatusNotFound, "Not found", "No such upload.")
		return
	}
	h.forward(w, r, s, "/api/v1/uploads/"+id+"/events")
}

// forward serves r at path of the upload endpoints as the signed-in person.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, s *session, path string) {
	ctx := r.Context()
	if h.opts.Auth != nil {
		ctx = auth.WithPerson(ctx, s.Person)
	}
	r2 := r.Clone(ctx)
	r2.URL.Path, r2.URL.RawPath = path, ""
	r2.Header.Del("Authorization")
	r2.Header.Del("Cookie")
	h.opts.Uploads.ServeHTTP(w, r2)
}
