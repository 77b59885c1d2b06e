package oci

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Options configure a Handler.
type Options struct {
	// Driver is the registry's storage: it holds the referrers index and
	// the digest aliases.
	Driver storagedriver.StorageDriver
	// Namespace is the registry's storage seen through distribution, used
	// to mount a blob into a repository when no source repository is named.
	// Nil turns such mounts into ordinary uploads (202).
	Namespace distribution.Namespace
	// AllowPull answers the request and returns false unless it may pull
	// repo (referrers are read like manifests). Nil allows every request.
	AllowPull func(w http.ResponseWriter, r *http.Request, repo string) bool
	// PutManifest serves every manifest PUT to a valid repository name:
	// the push pipeline's door (push.Door). Distribution's handler never
	// stores a manifest. Nil leaves them to distribution (tests of this
	// package only).
	PutManifest func(w http.ResponseWriter, r *http.Request, repo, ref string)
	// MayMountAnonymously reports whether the request may mount a blob into
	// repo without naming the repository it comes from; false makes the
	// client upload it instead. Nil allows every request.
	MayMountAnonymously func(r *http.Request, repo string) bool
	// TouchMount, when set, is called with the blob a mount without a
	// source repository links, before its existence is checked: garbage
	// collection's touch (middleware.Guard.TouchMount), as distribution's
	// own mounts get it from the guard's blob store.
	TouchMount func(ctx context.Context, repo string, d digest.Digest)
	// PageSize bounds the descriptors of one referrers page (default 1000).
	PageSize int
	Logger   *slog.Logger
}

// Handler completes the OCI distribution API in front of distribution's
// handlers (next): it answers the requests distribution cannot, adjusts
// the responses distribution gets wrong, and forwards everything else.
type Handler struct {
	next      http.Handler
	referrers *Referrers
	aliases   *Aliases
	opts      Options
	logger    *slog.Logger
}

// NewHandler returns a Handler in front of next.
func NewHandler(next http.Handler, opts Options) *Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = defaultPageSize
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{next: next, referrers: NewReferrers(opts.Driver), aliases: NewAliases(opts.Driver), opts: opts, logger: logger}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := parseRoute(r.URL.Path)
	if rt.kind != routeOther && rt.kind != routeReferrers && !validName(rt.repo) {
		h.next.ServeHTTP(w, r) // never a storage path: distribution refuses the name
		return
	}
	switch {
	case rt.kind == routeManifest && r.Method == http.MethodDelete:
		h.serveDelete(w, r, func(w http.ResponseWriter, r *http.Request) {
			if isAlias(rt.ref) {
				h.aliasedManifest(w, r, rt)
				return
			}
			h.next.ServeHTTP(w, r)
		})
	case rt.kind == routeReferrers && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.serveReferrers(w, r, rt)
	case rt.kind == routeManifest && r.Method == http.MethodPut && h.opts.PutManifest != nil:
		h.opts.PutManifest(w, r, rt.repo, rt.ref)
	case rt.kind == routeManifest && isAlias(rt.ref):
		h.aliasedManifest(w, r, rt)
	case rt.kind == routeBlob && isAlias(rt.ref):
		h.aliasedBlob(w, r, rt)
	case rt.kind == routeUploads && r.Method == http.MethodPost:
		h.postUpload(w, r, rt)
	case rt.kind == routeUpload && r.Method == http.MethodPut && isAlias(r.URL.Query().Get("digest")):
		h.finishAliasedUpload(w, r, rt)
	default:
		h.next.ServeHTTP(w, r)
	}
}

// validName reports whether repo is a repository name distribution
// accepts, and so one whose storage paths the driver accepts.
func validName(repo string) bool {
	_, err := reference.WithName(repo)
	return err == nil
}

func isAlias(ref string) bool {
	_, ok := aliasDigest(ref)
	return ok
}

// forward runs an in-process request derived from r — same credentials,
// same request context — for method on path?query with body, through
// handler, and returns its recorded response.
func forward(ctx context.Context, handler http.Handler, r *http.Request, method, path, query string, body []byte) *recorder {
	r2 := r.Clone(ctx)
	r2.Method = method
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = path, "", query
	r2.RequestURI = r2.URL.RequestURI()
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.TransferEncoding = nil
	rec := newRecorder()
	handler.ServeHTTP(rec, r2)
	return rec
}

// serveError answers err as an OCI error.
func serveError(w http.ResponseWriter, err error) { _ = errcode.ServeJSON(w, err) }

// internalError logs err and answers 500 UNKNOWN.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	h.logger.ErrorContext(r.Context(), msg, "path", r.URL.Path, "error", err.Error())
	serveError(w, errcode.ErrorCodeUnknown.WithMessage(msg))
}
