package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/uuid"

	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/push"
)

// HeaderUploadID carries an upload's id: in every response to an upload,
// and optionally in the request, chosen by the client so that it can watch
// the progress while it is still sending.
const HeaderUploadID = "Imagegate-Upload-Id"

// uploadIDPattern is the form of a client-chosen upload id.
var uploadIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{7,127}$`)

// Authenticator identifies the callers of the upload endpoints. On
// refusal it has answered the request (401 with a challenge) and returns
// false. repository, when known, names the scope to ask a token for.
type Authenticator interface {
	Authenticate(w http.ResponseWriter, r *http.Request, repository string) (Caller, bool)
}

// Caller is an authenticated uploader.
type Caller interface {
	// Subject names the caller; progress is shown to the same subject only.
	Subject() string
	// MayPush reports whether the caller may push to repo.
	MayPush(repo string) bool
	// MayPushSomewhere reports whether the caller may push to at least
	// one repository (uploads need it before their targets are known).
	MayPushSomewhere() bool
}

// Failure describes an upload that failed, for notifications. Fields not
// known when it failed (the repository before the archive was read) are
// empty.
type Failure struct {
	UploadID   string
	Repository string
	Tags       []string
	// Size is the bytes received before the failure.
	Size int64
	// Reason is the message the client received.
	Reason string
	// RecordID is the gate's record when the gate refused a manifest.
	RecordID string
}

// Handler serves the upload endpoints (see docs/upload.md).
type Handler struct {
	in      *Ingester
	tracker *Tracker
	authn   Authenticator
	logger  *slog.Logger
	// presigner and driver serve direct uploads (EnableDirect).
	presigner Presigner
	driver    storagedriver.StorageDriver
	// OnFailure, when set, is told about every failed upload; it must not
	// block (it runs before the answer is written).
	OnFailure func(ctx context.Context, f Failure)
}

// NewHandler returns the upload endpoints over in. authn nil leaves them
// open (a registry without auth).
func NewHandler(in *Ingester, tracker *Tracker, authn Authenticator, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{in: in, tracker: tracker, authn: authn, logger: logger}
}

// uploadResponse is the answer to a successful upload.
type uploadResponse struct {
	UploadID string  `json:"upload_id"`
	Images   []Image `json:"images"`
}

// ServeUpload answers POST /upload-image and POST /api/v1/uploads: the
// body (raw, or the file part of a multipart form) is the archive. The
// caller is authenticated, and must hold push somewhere (on the query's
// repository when named), before a byte of the body is read.
func (h *Handler) ServeUpload(w http.ResponseWriter, r *http.Request) {
	// A refusal before the body is read closes the connection: else Go's
	// server would read (up to 256 KiB of) the body to reuse it.
	w.Header().Set("Connection", "close")
	id := r.Header.Get(HeaderUploadID)
	if id != "" && !uploadIDPattern.MatchString(id) {
		w.Header().Set(HeaderUploadID, uuid.NewString())
		serveError(w, ErrUploadInvalid.WithMessage(fmt.Sprintf("%s must match %s", HeaderUploadID, uploadIDPattern)))
		return
	}
	if id == "" {
		id = uuid.NewString()
	}
	w.Header().Set(HeaderUploadID, id)
	caller, repo, tags, ok := h.admit(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Get("direct") != "" {
		h.serveDirect(w, r, id, caller, repo)
		return
	}
	lim := h.in.Limits()
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form := mt == "multipart/form-data"
	limit := lim.MaxUploadBytes
	if form {
		limit += maxFormBytes // the form's framing and fields around the archive
	}
	if r.ContentLength > limit {
		serveError(w, tooLarge("the upload is %s; upload.maxbytes allows %s", sizeText(r.ContentLength), sizeText(lim.MaxUploadBytes)))
		return
	}
	body := io.Reader(r.Body)
	if form {
		var err error
		if body, repo, tags, err = readForm(r.Body, params["boundary"], lim, repo, tags); err != nil {
			serveError(w, err)
			return
		}
		if err := checkTargets(caller, repo, tags); err != nil {
			serveError(w, err)
			return
		}
	}
	w.Header().Del("Connection")
	h.ingest(w, r, id, body, r.ContentLength, repo, tags, caller)
}

// admit authenticates the caller and checks the targets the query names
// (repository=, tag=) with checkTargets; on refusal it has answered.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (Caller, string, []string, bool) {
	q := r.URL.Query()
	repo, tags := q.Get("repository"), q["tag"]
	caller, ok := h.authenticate(w, r, repo)
	if !ok {
		return nil, "", nil, false
	}
	if err := checkTargets(caller, repo, tags); err != nil {
		serveError(w, err)
		return nil, "", nil, false
	}
	return caller, repo, tags, true
}

// checkTargets checks what the request names before the archive is read:
// the repository (valid, and the caller may push there), the tags (valid,
// at most maxTags), and that a caller naming no repository may push
// somewhere.
func checkTargets(caller Caller, repo string, tags []string) error {
	if len(tags) > maxTags {
		return ErrUploadInvalid.WithMessage(fmt.Sprintf("the request names %d tags; at most %d are allowed", len(tags), maxTags))
	}
	for _, t := range tags {
		if !push.ValidTag(t) {
			return ErrUploadInvalid.WithMessage(fmt.Sprintf("invalid tag %q", cut(t)))
		}
	}
	if repo != "" {
		if err := checkRepository(repo); err != nil {
			return err
		}
	}
	switch {
	case caller == nil:
		return nil
	case repo != "" && !caller.MayPush(repo):
		return errDenied(repo)
	case repo == "" && !caller.MayPushSomewhere():
		return errcode.ErrorCodeDenied.WithMessage("no push access to any repository")
	}
	return nil
}

// authenticate identifies the caller (nil when auth is off); on refusal
// it has answered.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, repo string) (Caller, bool) {
	if h.authn == nil {
		return nil, true
	}
	return h.authn.Authenticate(w, r, repo)
}

// subject is the caller's name, "" without auth.
func subject(c Caller) string {
	if c == nil {
		return ""
	}
	return c.Subject()
}

// ingest runs one upload of body and answers it.
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, id string, body io.Reader, expected int64, repo string, tags []string, caller Caller) {
	owner := subject(caller)
	up, err := h.tracker.Start(r.Context(), id, owner, expected)
	switch {
	case errors.Is(err, ErrIDTaken):
		serveError(w, ErrUploadInvalid.WithMessage(fmt.Sprintf("upload id %q is in use", id)))
		return
	case err != nil:
		serveError(w, errcode.ErrorCodeTooManyRequests.WithMessage("too many uploads are running on this replica (upload.progress.maxuploads); retry later"))
		return
	}
	req := Request{Body: body, Repository: repo, Tags: tags, Progress: up, User: owner, Requester: push.RequesterOf(r),
		Override: lifecycle.OverrideReason(r)}
	if caller != nil {
		req.MayPush = func(repo string) error {
			if caller.MayPush(repo) {
				return nil
			}
			return errDenied(repo)
		}
	}
	images, err := h.in.Ingest(r.Context(), req)
	if err != nil {
		code, msg := errorSummary(err)
		up.finish(nil, code, msg)
		up.waitShared(shareFlushWait)
		if code == errcode.ErrorCodeUnknown.String() {
			h.logger.ErrorContext(r.Context(), "upload failed", "upload_id", id, "error", err.Error())
		} else {
			h.logger.InfoContext(r.Context(), "upload refused", "upload_id", id, "code", code, "reason", msg)
		}
		if h.OnFailure != nil {
			s, _ := up.Snapshot()
			h.OnFailure(r.Context(), Failure{UploadID: id, Repository: up.failedRepository(repo), Tags: tags,
				Size: s.BytesReceived, Reason: msg, RecordID: up.rejectedRecord()})
		}
		// The connection closes after this answer; what is left of the
		// body is read only for a moment (linger).
		w.Header().Set("Connection", "close")
		serveError(w, err)
		linger(w, r)
		return
	}
	up.finish(images, "", "")
	up.waitShared(shareFlushWait)
	h.logger.InfoContext(r.Context(), "upload stored", "upload_id", id, "images", len(images))
	writeJSON(w, http.StatusCreated, uploadResponse{UploadID: id, Images: images})
}

// errDenied is the answer to a caller without push on repo.
func errDenied(repo string) error {
	return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("no push access to repository %s", repo))
}

// errorSummary is an error's OCI code and message, for the progress view.
func errorSummary(err error) (string, string) {
	var e errcode.Error
	if errors.As(err, &e) {
		return e.Code.String(), e.Message
	}
	var c errcode.ErrorCode
	if errors.As(err, &c) {
		return c.String(), c.Message()
	}
	return errcode.ErrorCodeUnknown.String(), "internal error"
}

// serveError writes err as an OCI error body.
func serveError(w http.ResponseWriter, err error) {
	_ = errcode.ServeJSON(w, err)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Bounds of linger: what a refused upload's client may still send, and
// for how long, after its answer.
const (
	lingerBytes = 8 << 20
	lingerTime  = 2 * time.Second
)

// linger sends the answer written to w, then reads and discards what the
// client is still sending of a body refused part-way, up to lingerBytes
// for up to lingerTime. Closing the connection with unread data in it
// makes the kernel reset it, and a client still writing (curl, Go's
// client) then reports "connection reset" instead of the answer.
func linger(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	if err := rc.SetReadDeadline(time.Now().Add(lingerTime)); err != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, lingerBytes)
}
