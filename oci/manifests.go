package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/errcodes"
)

// Response headers of manifest pushes (distribution-spec 1.1 and later).
const (
	HeaderSubject = "OCI-Subject"
	HeaderTag     = "OCI-Tag"
)

// maxTagParams bounds the ?tag= parameters of one manifest push: each is
// a push through the gate (validate, scan, record), so an unbounded list
// would let one request run the scanner tens of thousands of times.
const maxTagParams = 100

type pushedDigestKey struct{}

// WithPushedDigest records on ctx the digest the client addressed a
// manifest by, when it is not the canonical digest distribution stores it
// under; the referrers middleware indexes the manifest under it.
func WithPushedDigest(ctx context.Context, d digest.Digest) context.Context {
	return context.WithValue(ctx, pushedDigestKey{}, d)
}

// PushedDigest returns the digest WithPushedDigest recorded, if any.
func PushedDigest(ctx context.Context) (digest.Digest, bool) {
	d, ok := ctx.Value(pushedDigestKey{}).(digest.Digest)
	return d, ok && d != ""
}

// putManifest completes manifest pushes: it verifies a digest reference of
// any algorithm against the body (distribution only knows sha256) and
// stores the manifest under its canonical digest with the client's digest
// linked to it; it applies ?tag= parameters of a push by digest (each tag
// is a push through the gate); and it answers OCI-Subject for a manifest
// with a subject, Docker-Content-Digest and Location in the client's
// digest.
func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if h.opts.AllowPush != nil && !h.opts.AllowPush(w, r, rt.repo) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			serveError(w, errcodes.ManifestTooLarge.WithDetail(map[string]any{
				"limit":  tooBig.Limit,
				"reason": fmt.Sprintf("manifest is larger than limits.manifestbytes (%d bytes)", tooBig.Limit),
			}))
			return
		}
		serveError(w, errcode.ErrorCodeManifestInvalid.WithDetail(map[string]string{"reason": "reading the body: " + err.Error()}))
		return
	}
	ctx := r.Context()
	canonical := digest.FromBytes(body)
	var pushed digest.Digest // the digest reference, if the push is by digest
	if d, err := digest.Parse(rt.ref); err == nil {
		pushed = d
		if pushed.Algorithm().FromBytes(body) != pushed {
			serveError(w, errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{
				"digest": pushed.String(), "reason": "the manifest's content has another digest"}))
			return
		}
		if pushed != canonical {
			ctx = WithPushedDigest(ctx, pushed)
		}
	}
	tags := r.URL.Query()["tag"]
	if len(tags) > maxTagParams {
		serveError(w, errcode.ErrorCodeTagInvalid.WithDetail(map[string]any{
			"tags": len(tags), "limit": maxTagParams,
			"reason": fmt.Sprintf("at most %d tag parameters per push", maxTagParams)}))
		return
	}
	for _, t := range tags {
		if pushed == "" || !reference.TagRegexp.MatchString(t) || len(t) > 128 {
			serveError(w, errcode.ErrorCodeTagInvalid.WithDetail(map[string]string{
				"tag": t, "reason": "tag parameters need a push by digest and a valid tag"}))
			return
		}
	}

	targets := []string{rt.ref}
	switch {
	case len(tags) > 0:
		targets = tags
	case pushed != "":
		targets = []string{canonical.String()}
	}
	var rec *recorder
	for _, target := range targets {
		rec = forward(ctx, h.next, r, http.MethodPut, "/v2/"+rt.repo+"/manifests/"+target, "", body)
		if rec.status != http.StatusCreated {
			rec.relay(w)
			return
		}
	}
	// Distribution has stored the manifest: the links that complete it are
	// written even if the client goes away now (a half-done push would
	// answer the canonical digest only).
	ctx = context.WithoutCancel(ctx)
	if pushed != "" && pushed != canonical {
		if err := h.aliases.LinkManifest(ctx, rt.repo, pushed, canonical); err != nil {
			h.internalError(w, r, "linking the manifest digest failed", err)
			return
		}
		desc := v1.Descriptor{MediaType: r.Header.Get("Content-Type"), Digest: pushed, Size: int64(len(body))}
		if err := h.pointTags(ctx, rt.repo, tags, desc); err != nil {
			h.internalError(w, r, "tagging the manifest digest failed", err)
			return
		}
		rec.header.Set("Docker-Content-Digest", pushed.String())
		rec.header.Set("Location", replaceDigest(rec.header.Get("Location"), canonical, pushed))
	}
	for _, t := range tags {
		rec.header.Add(HeaderTag, t)
	}
	if subject, ok := Subject(body); ok {
		rec.header.Set(HeaderSubject, subject.String())
	}
	rec.relay(w)
}

// aliasedManifest serves GET, HEAD and DELETE of a manifest addressed by a
// non-canonical digest: as the canonical digest it is linked to, with the
// client's digest in the response. An unknown digest goes to distribution
// unchanged (which answers MANIFEST_UNKNOWN).
func (h *Handler) aliasedManifest(w http.ResponseWriter, r *http.Request, rt route) {
	alias, _ := aliasDigest(rt.ref)
	canonical, ok, err := h.aliases.Manifest(r.Context(), rt.repo, alias)
	if err != nil {
		h.internalError(w, r, "resolving the manifest digest failed", err)
		return
	}
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	ctx := WithPushedDigest(r.Context(), alias)
	r2 := r.Clone(ctx)
	r2.URL.Path, r2.URL.RawPath = "/v2/"+rt.repo+"/manifests/"+canonical.String(), ""
	r2.RequestURI = r2.URL.RequestURI()
	hooked := &headerHook{ResponseWriter: w, hook: func(status int, hdr http.Header) {
		if status/100 != 2 {
			return
		}
		if r.Method == http.MethodDelete {
			// Distribution has deleted the manifest; a link or tag left
			// behind could never be deleted again (the canonical manifest
			// is gone), so the client going away must not stop this.
			ctx := context.WithoutCancel(ctx)
			if err := h.aliases.UnlinkManifest(ctx, rt.repo, alias); err != nil {
				h.logger.ErrorContext(ctx, "unlinking a deleted manifest digest failed", "error", err.Error())
			}
			if err := h.untagAlias(ctx, rt.repo, alias); err != nil {
				h.logger.ErrorContext(ctx, "untagging a deleted manifest digest failed", "error", err.Error())
			}
			return
		}
		echoDigest(hdr, canonical, alias)
	}}
	h.next.ServeHTTP(hooked, r2)
}

// echoDigest makes a response about canonical name alias instead.
func echoDigest(hdr http.Header, canonical, alias digest.Digest) {
	if hdr.Get("Docker-Content-Digest") != "" {
		hdr.Set("Docker-Content-Digest", alias.String())
	}
	if hdr.Get("Etag") != "" {
		hdr.Set("Etag", `"`+alias.String()+`"`)
	}
	if loc := hdr.Get("Location"); loc != "" {
		hdr.Set("Location", replaceDigest(loc, canonical, alias))
	}
}

// replaceDigest replaces digest from with to in the path of location.
func replaceDigest(location string, from, to digest.Digest) string {
	u, err := url.Parse(location)
	if err != nil {
		return strings.ReplaceAll(location, from.String(), to.String())
	}
	u.Path = strings.ReplaceAll(u.Path, from.String(), to.String())
	u.RawPath = ""
	return u.String()
}
