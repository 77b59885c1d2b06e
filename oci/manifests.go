package oci

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Response headers of manifest pushes (distribution-spec 1.1 and later).
const (
	HeaderSubject = "OCI-Subject"
	HeaderTag     = "OCI-Tag"
)

type pushedDigestKey struct{}

// WithPushedDigest records on ctx the digest the client addressed a
// manifest by, when it is not the canonical digest distribution stores it
// under; the referrers middleware removes a deleted manifest's entry
// under it.
func WithPushedDigest(ctx context.Context, d digest.Digest) context.Context {
	return context.WithValue(ctx, pushedDigestKey{}, d)
}

// PushedDigest returns the digest WithPushedDigest recorded, if any.
func PushedDigest(ctx context.Context) (digest.Digest, bool) {
	d, ok := ctx.Value(pushedDigestKey{}).(digest.Digest)
	return d, ok && d != ""
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
