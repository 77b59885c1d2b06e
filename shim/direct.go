package shim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Presigner issues URLs through which a client PUTs an object straight
// into the storage (the S3 driver implements it). The object's size is
// signed into the URL: the storage refuses a PUT of any other length.
type Presigner interface {
	PresignPut(ctx context.Context, path string, size int64, expiry time.Duration) (string, http.Header, error)
}

// directRoot is where direct uploads wait, outside distribution's tree.
const directRoot = "/imagegate-staging/uploads/"

// directExpiry is how long a presigned PUT URL is valid.
const directExpiry = time.Hour

// EnableDirect lets clients upload archives straight into the storage:
// POST /api/v1/uploads?direct=s3, then /api/v1/uploads/{id}/complete.
func (h *Handler) EnableDirect(p Presigner, driver storagedriver.StorageDriver) {
	h.presigner, h.driver = p, driver
}

// stagingObject is where the direct upload id of owner waits. The owner is
// part of the path, so nobody else can complete (or even find) it.
func stagingObject(owner, id string) string {
	sum := sha256.Sum256([]byte("imagegate-upload-owner:" + owner))
	return directRoot + hex.EncodeToString(sum[:12]) + "/" + id
}

// directAnswer tells the client where to PUT the archive.
type directAnswer struct {
	UploadID  string      `json:"upload_id"`
	URL       string      `json:"url"`
	Method    string      `json:"method"`
	Headers   http.Header `json:"headers"`
	ExpiresAt time.Time   `json:"expires_at"`
	Complete  string      `json:"complete"`
}

// serveDirect answers POST /api/v1/uploads?direct=s3&size=N with a
// presigned PUT URL into a staging object, for an archive of exactly N
// bytes (at most upload.maxbytes). The caller is authenticated and its
// push rights checked (checkTargets) before this runs. Nothing is kept on
// this replica: complete finds the object again from the caller and the id.
func (h *Handler) serveDirect(w http.ResponseWriter, r *http.Request, id string, caller Caller, repo string) {
	if r.URL.Query().Get("direct") != "s3" || h.presigner == nil {
		serveError(w, ErrUploadInvalid.WithMessage("direct=s3 needs the s3 storage driver"))
		return
	}
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil || size <= 0 {
		serveError(w, ErrUploadInvalid.WithMessage("a direct upload must declare the archive's size in bytes: ?size=N"))
		return
	}
	if limit := h.in.Limits().MaxUploadBytes; size > limit {
		serveError(w, tooLarge("the upload is %s; upload.maxbytes allows %s", sizeText(size), sizeText(limit)))
		return
	}
	url, headers, err := h.presigner.PresignPut(r.Context(), stagingObject(subject(caller), id), size, directExpiry)
	if err != nil {
		h.logger.ErrorContext(r.Context(), "presigning a direct upload failed", "upload_id", id, "repository", repo, "error", err.Error())
		serveError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, directAnswer{UploadID: id, URL: url, Method: http.MethodPut, Headers: headers,
		ExpiresAt: time.Now().Add(directExpiry).UTC(), Complete: "/api/v1/uploads/" + id + "/complete"})
}

// ServeComplete answers POST /api/v1/uploads/{id}/complete: the archive
// PUT through the presigned URL is ingested like a POSTed one (query
// repository= and tag= as for POST /upload-image), then its staging
// object is deleted, whatever the outcome.
func (h *Handler) ServeComplete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	w.Header().Set(HeaderUploadID, id)
	if h.presigner == nil || !uploadIDPattern.MatchString(id) {
		serveError(w, ErrUploadUnknown.WithDetail(map[string]string{"id": id}))
		return
	}
	caller, repo, tags, ok := h.admit(w, r)
	if !ok {
		return
	}
	path := stagingObject(subject(caller), id)
	fi, err := h.driver.Stat(r.Context(), path)
	var missing storagedriver.PathNotFoundError
	if errors.As(err, &missing) {
		serveError(w, ErrUploadUnknown.WithMessage("nothing was uploaded for this id (or by another user)").WithDetail(map[string]string{"id": id}))
		return
	}
	if err != nil {
		serveError(w, fmt.Errorf("shim: finding direct upload %s: %w", id, err))
		return
	}
	defer func() {
		if err := h.driver.Delete(context.WithoutCancel(r.Context()), path); err != nil {
			h.logger.WarnContext(r.Context(), "deleting a direct upload's staging object failed", "upload_id", id, "error", err.Error())
		}
	}()
	if fi.Size() > h.in.Limits().MaxUploadBytes {
		serveError(w, tooLarge("the upload is %s; upload.maxbytes allows %s", sizeText(fi.Size()), sizeText(h.in.Limits().MaxUploadBytes)))
		return
	}
	rc, err := h.driver.Reader(r.Context(), path, 0)
	if err != nil {
		serveError(w, fmt.Errorf("shim: reading direct upload %s: %w", id, err))
		return
	}
	defer rc.Close()
	h.ingest(w, r, id, rc, fi.Size(), repo, tags, caller)
}
