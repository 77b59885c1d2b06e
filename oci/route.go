package oci

import (
	"strings"

	"github.com/opencontainers/go-digest"
)

// routeKind is the endpoint of a /v2/ path this package may complete.
type routeKind int

const (
	routeOther     routeKind = iota
	routeManifest            // /v2/<name>/manifests/<reference>
	routeBlob                // /v2/<name>/blobs/<digest>
	routeUploads             // /v2/<name>/blobs/uploads/
	routeUpload              // /v2/<name>/blobs/uploads/<id>
	routeReferrers           // /v2/<name>/referrers/<digest>
)

// route is a parsed /v2/ path.
type route struct {
	kind routeKind
	repo string
	ref  string // reference, digest or upload id; empty for routeUploads
}

// parseRoute splits a /v2/ path into repository, endpoint and reference.
// Paths of other endpoints come back as routeOther.
func parseRoute(p string) route {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return route{}
	}
	if repo, ok := strings.CutSuffix(rest, "/blobs/uploads/"); ok && repo != "" {
		return route{kind: routeUploads, repo: repo}
	}
	for _, m := range []struct {
		marker string
		kind   routeKind
	}{
		{"/blobs/uploads/", routeUpload},
		{"/manifests/", routeManifest},
		{"/blobs/", routeBlob},
		{"/referrers/", routeReferrers},
	} {
		i := strings.LastIndex(rest, m.marker)
		if i <= 0 {
			continue
		}
		ref := rest[i+len(m.marker):]
		if ref == "" || strings.Contains(ref, "/") {
			continue
		}
		return route{kind: m.kind, repo: rest[:i], ref: ref}
	}
	return route{}
}

// aliasDigest returns ref as a digest when it is a valid digest of an
// algorithm other than the canonical sha256: one this package links.
func aliasDigest(ref string) (digest.Digest, bool) {
	d, err := digest.Parse(ref)
	if err != nil || d.Algorithm() == digest.Canonical {
		return "", false
	}
	return d, true
}
