package oci

import "testing"

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		path string
		want route
	}{
		{"/v2/a/b/manifests/v1", route{routeManifest, "a/b", "v1"}},
		{"/v2/a/blobs/sha512:ab", route{routeBlob, "a", "sha512:ab"}},
		{"/v2/a/b/blobs/uploads/", route{routeUploads, "a/b", ""}},
		{"/v2/a/blobs/uploads/0123-id", route{routeUpload, "a", "0123-id"}},
		{"/v2/x/referrers/sha256:00", route{routeReferrers, "x", "sha256:00"}},
		// a repository may be named like an endpoint
		{"/v2/manifests/manifests/latest", route{routeManifest, "manifests", "latest"}},
		{"/v2/a/tags/list", route{}},
		{"/v2/", route{}},
		{"/v2/_catalog", route{}},
		{"/healthz", route{}},
	} {
		if got := parseRoute(tc.path); got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
}
