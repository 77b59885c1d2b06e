package oci

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestBlobAliasAt: the path of every alias Remember writes names its
// digest; no other path does.
func TestBlobAliasAt(t *testing.T) {
	for _, d := range []digest.Digest{digest.SHA512.FromString("x"), digest.SHA384.FromString("x")} {
		if got, ok := BlobAliasAt(BlobAliasPath(d)); !ok || got != d {
			t.Errorf("BlobAliasAt(%s) = %s, %v", BlobAliasPath(d), got, ok)
		}
	}
	enc := digest.SHA512.FromString("x").Encoded()
	for _, p := range []string{
		BlobAliasRoot + "/sha512/nothex",
		BlobAliasRoot + "/sha512/" + enc + "/more",
		BlobAliasRoot + "/md5/" + enc,
		BlobAliasRoot + "/sha512",
		"/elsewhere/sha512/" + enc,
	} {
		if _, ok := BlobAliasAt(p); ok {
			t.Errorf("BlobAliasAt(%q) named an alias", p)
		}
	}
}
