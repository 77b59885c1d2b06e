package oci

import (
	"path"

	"github.com/opencontainers/go-digest"
)

// The storage layout this package reads and writes. Repository paths are
// distribution's own (registry/storage/paths.go): alias links are written
// where distribution itself reads links, so its handlers resolve them.
const (
	// repositoriesRoot is distribution's root of per-repository state.
	repositoriesRoot = "/docker/registry/v2/repositories"
	// aliasRoot maps a non-canonical blob digest to the canonical one,
	// registry-wide, for mounts that name no source repository.
	aliasRoot = "/imagegate/digests"
)

// layerLinkPath is where distribution looks up blob dgst of repo.
func layerLinkPath(repo string, dgst digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_layers", dgst.Algorithm().String(), dgst.Encoded(), "link")
}

// manifestLinkPath is where distribution looks up manifest revision dgst of repo.
func manifestLinkPath(repo string, dgst digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_manifests", "revisions", dgst.Algorithm().String(), dgst.Encoded(), "link")
}

// globalAliasPath records which canonical blob dgst names.
func globalAliasPath(dgst digest.Digest) string {
	return path.Join(aliasRoot, dgst.Algorithm().String(), dgst.Encoded())
}

// subjectDir holds the referrers of subject in repo, one file per
// referrer: <alg>/<encoded>, holding the referrer's descriptor as JSON.
// Distribution's catalog skips directories whose name starts with "_".
func subjectDir(repo string, subject digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_referrers", subject.Algorithm().String(), subject.Encoded())
}

// referrerPath is the file of referrer in subjectDir(repo, subject).
func referrerPath(repo string, subject, referrer digest.Digest) string {
	return path.Join(subjectDir(repo, subject), referrer.Algorithm().String(), referrer.Encoded())
}
