package oci

import (
	"context"
	"fmt"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// Aliases links digests of other algorithms (sha512) to the canonical
// sha256 digest under which distribution stores content. Per-repository
// links are written in distribution's own layout (a "link" file holding
// the canonical digest), so distribution's manifest and blob stores resolve
// them like the links they write themselves; the registry-wide map serves
// mounts that name no source repository.
type Aliases struct {
	driver storagedriver.StorageDriver
}

// NewAliases returns the aliases kept in driver.
func NewAliases(driver storagedriver.StorageDriver) *Aliases { return &Aliases{driver: driver} }

// LinkManifest makes manifest alias of repo resolve to canonical.
func (a *Aliases) LinkManifest(ctx context.Context, repo string, alias, canonical digest.Digest) error {
	return a.put(ctx, manifestLinkPath(repo, alias), canonical)
}

// UnlinkManifest removes the manifest alias of repo, if any.
func (a *Aliases) UnlinkManifest(ctx context.Context, repo string, alias digest.Digest) error {
	if err := a.driver.Delete(ctx, manifestLinkPath(repo, alias)); err != nil && !isNotFound(err) {
		return fmt.Errorf("oci: unlinking manifest %s of %s: %w", alias, repo, err)
	}
	return nil
}

// Manifest returns the canonical digest manifest alias of repo links to.
func (a *Aliases) Manifest(ctx context.Context, repo string, alias digest.Digest) (digest.Digest, bool, error) {
	return a.get(ctx, manifestLinkPath(repo, alias))
}

// LinkBlob makes blob alias of repo resolve to canonical.
func (a *Aliases) LinkBlob(ctx context.Context, repo string, alias, canonical digest.Digest) error {
	return a.put(ctx, layerLinkPath(repo, alias), canonical)
}

// Blob returns the canonical digest blob alias of repo links to.
func (a *Aliases) Blob(ctx context.Context, repo string, alias digest.Digest) (digest.Digest, bool, error) {
	return a.get(ctx, layerLinkPath(repo, alias))
}

// Remember records registry-wide that blob alias is canonical.
func (a *Aliases) Remember(ctx context.Context, alias, canonical digest.Digest) error {
	return a.put(ctx, globalAliasPath(alias), canonical)
}

// Recall returns the canonical digest remembered for blob alias.
func (a *Aliases) Recall(ctx context.Context, alias digest.Digest) (digest.Digest, bool, error) {
	return a.get(ctx, globalAliasPath(alias))
}

func (a *Aliases) put(ctx context.Context, path string, canonical digest.Digest) error {
	if err := a.driver.PutContent(ctx, path, []byte(canonical)); err != nil {
		return fmt.Errorf("oci: writing digest link %s: %w", path, err)
	}
	return nil
}

// get reads the link at path: its digest, false when there is none.
func (a *Aliases) get(ctx context.Context, path string) (digest.Digest, bool, error) {
	b, err := a.driver.GetContent(ctx, path)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("oci: reading digest link %s: %w", path, err)
	}
	d, err := digest.Parse(string(b))
	if err != nil {
		return "", false, fmt.Errorf("oci: digest link %s: %w", path, err)
	}
	return d, true, nil
}

// BlobAliasRoot is the folder of the registry-wide blob aliases
// (Remember): one file per alias, <root>/<algorithm>/<encoded>, holding
// the canonical digest. Garbage collection walks it to delete the
// aliases of blobs it deletes or that are gone.
const BlobAliasRoot = aliasRoot

// BlobAliasPath is the file recording which canonical blob alias names.
func BlobAliasPath(alias digest.Digest) string { return globalAliasPath(alias) }

// BlobAliasAt is the alias digest whose file is p, false when p is not
// the file of an alias (a valid digest at the path Remember writes).
func BlobAliasAt(p string) (digest.Digest, bool) {
	rest, ok := strings.CutPrefix(p, aliasRoot+"/")
	if !ok {
		return "", false
	}
	alg, enc, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	if d.Validate() != nil || globalAliasPath(d) != p {
		return "", false
	}
	return d, true
}
