package oci

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// aliasedBlob serves a blob addressed by a non-canonical digest.
// Distribution resolves it through the repository's link (it writes one
// when an upload names that digest) but answers with the canonical digest;
// the response here carries the client's.
func (h *Handler) aliasedBlob(w http.ResponseWriter, r *http.Request, rt route) {
	alias, _ := aliasDigest(rt.ref)
	hooked := &headerHook{ResponseWriter: w, hook: func(status int, hdr http.Header) {
		if status/100 != 2 && status/100 != 3 {
			return
		}
		if got, err := digest.Parse(hdr.Get("Docker-Content-Digest")); err == nil {
			echoDigest(hdr, got, alias)
		}
	}}
	h.next.ServeHTTP(hooked, r)
}

// finishAliasedUpload completes an upload whose digest parameter is not
// sha256. Distribution verifies it and links it in the repository; this
// remembers it registry-wide (for mounts without a source) and answers
// with the client's digest rather than the canonical one.
func (h *Handler) finishAliasedUpload(w http.ResponseWriter, r *http.Request, _ route) {
	alias, _ := aliasDigest(r.URL.Query().Get("digest"))
	hooked := &headerHook{ResponseWriter: w, hook: func(status int, hdr http.Header) {
		if status != http.StatusCreated {
			return
		}
		canonical, err := digest.Parse(hdr.Get("Docker-Content-Digest"))
		if err != nil {
			return
		}
		ctx := context.WithoutCancel(r.Context()) // the blob is stored: finish even if the client left
		if err := h.aliases.Remember(ctx, alias, canonical); err != nil {
			h.logger.ErrorContext(ctx, "remembering a blob digest failed", "error", err.Error())
		}
		echoDigest(hdr, canonical, alias)
	}}
	h.next.ServeHTTP(hooked, r)
}

// postUpload completes POST /v2/<name>/blobs/uploads/: mounts of
// non-canonical digests, mounts that name no source repository, and
// uploads whose content comes in the POST itself.
func (h *Handler) postUpload(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	mount, from := q.Get("mount"), q.Get("from")
	switch {
	case mount != "" && from != "":
		h.mountFrom(w, r, rt, mount, from)
	case mount != "":
		h.mountAnonymous(w, r, rt, mount)
	case q.Has("digest"):
		h.postMonolithic(w, r, rt, q.Get("digest"))
	default:
		h.next.ServeHTTP(w, r)
	}
}

// mountFrom mounts a blob of from named by a non-canonical digest: as the
// canonical digest it is linked to in from (distribution checks the
// caller's access to both repositories), then linking the client's digest
// in the target too.
func (h *Handler) mountFrom(w http.ResponseWriter, r *http.Request, rt route, mount, from string) {
	alias, ok := aliasDigest(mount)
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	canonical, ok, err := h.aliases.Blob(r.Context(), from, alias)
	if err != nil || !ok {
		h.next.ServeHTTP(w, r) // unknown in from: distribution opens an upload
		return
	}
	r2 := r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("mount", canonical.String())
	r2.URL.RawQuery = q.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	hooked := &headerHook{ResponseWriter: w, hook: func(status int, hdr http.Header) {
		if status != http.StatusCreated {
			return
		}
		ctx := context.WithoutCancel(r.Context()) // the blob is mounted: finish even if the client left
		if err := h.aliases.LinkBlob(ctx, rt.repo, alias, canonical); err != nil {
			h.logger.ErrorContext(ctx, "linking a mounted blob digest failed", "error", err.Error())
		}
		echoDigest(hdr, canonical, alias)
	}}
	h.next.ServeHTTP(hooked, r2)
}

// mountAnonymous mounts a blob the registry holds into rt.repo when the
// request names no source repository and MayMountAnonymously allows it;
// otherwise (or when the blob is unknown) distribution opens an ordinary
// upload, as the spec allows.
func (h *Handler) mountAnonymous(w http.ResponseWriter, r *http.Request, rt route, mount string) {
	dgst, err := digest.Parse(mount)
	if err != nil || h.opts.Namespace == nil ||
		(h.opts.MayMountAnonymously != nil && !h.opts.MayMountAnonymously(r, rt.repo)) {
		h.next.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	canonical := dgst
	if dgst.Algorithm() != digest.Canonical {
		c, ok, err := h.aliases.Recall(ctx, dgst)
		if err != nil || !ok {
			h.next.ServeHTTP(w, r)
			return
		}
		canonical = c
	}
	if h.opts.TouchMount != nil { // before the existence check (gc.Fence)
		h.opts.TouchMount(ctx, rt.repo, canonical)
	}
	desc, err := h.opts.Namespace.BlobStatter().Stat(ctx, canonical)
	if err != nil {
		h.next.ServeHTTP(w, r)
		return
	}
	named, err := reference.WithName(rt.repo)
	if err != nil {
		h.next.ServeHTTP(w, r)
		return
	}
	repo, err := h.opts.Namespace.Repository(ctx, named)
	if err != nil {
		h.internalError(w, r, "opening the repository failed", err)
		return
	}
	src, err := reference.WithDigest(named, canonical)
	if err != nil {
		h.next.ServeHTTP(w, r)
		return
	}
	_, err = repo.Blobs(ctx).Create(ctx, mountOption{from: src, stat: desc})
	var mounted distribution.ErrBlobMounted
	if !errors.As(err, &mounted) {
		if err == nil {
			err = errors.New("the blob store opened an upload instead of mounting")
		}
		h.internalError(w, r, "mounting the blob failed", err)
		return
	}
	if dgst != canonical {
		if err := h.aliases.LinkBlob(context.WithoutCancel(ctx), rt.repo, dgst, canonical); err != nil {
			h.internalError(w, r, "linking the mounted blob digest failed", err)
			return
		}
	}
	loc := url.URL{Path: "/v2/" + rt.repo + "/blobs/" + dgst.String()}
	w.Header().Set("Location", loc.String())
	w.Header().Set("Docker-Content-Digest", dgst.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// mountOption asks a blob store to link a blob it already holds.
type mountOption struct {
	from reference.Canonical
	stat v1.Descriptor
}

// Apply implements distribution.BlobCreateOption.
func (o mountOption) Apply(v any) error {
	opts, ok := v.(*distribution.CreateOptions)
	if !ok {
		return errors.New("oci: mount option applied to an unexpected option set")
	}
	opts.Mount.ShouldMount = true
	opts.Mount.From = o.from
	stat := o.stat
	opts.Mount.Stat = &stat
	return nil
}

// postMonolithic completes an upload whose content comes in the POST that
// opens it (POST ...?digest=<d> with the blob as body): it opens an upload
// with distribution and finishes it with a PUT of the same body, streamed.
// The response is the PUT's: 201 with the blob's Location, or its error.
func (h *Handler) postMonolithic(w http.ResponseWriter, r *http.Request, rt route, dgst string) {
	if _, err := digest.Parse(dgst); err != nil {
		serveError(w, errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{"digest": dgst, "reason": err.Error()}))
		return
	}
	opened := forward(r.Context(), h.next, r, http.MethodPost, r.URL.Path, "", nil)
	if opened.status != http.StatusAccepted {
		opened.relay(w)
		return
	}
	loc, err := url.Parse(opened.header.Get("Location"))
	if err != nil || loc.Path == "" {
		h.internalError(w, r, "opening the upload gave no usable location", errors.New(opened.header.Get("Location")))
		return
	}
	q := loc.Query()
	q.Set("digest", dgst)
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodPut
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = loc.Path, "", q.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	h.ServeHTTP(w, r2) // through this handler: a non-canonical digest is completed too
}
