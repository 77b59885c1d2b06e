package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Referrers is the referrers index of every repository: for each subject
// digest, the descriptors of the manifests that name it as their subject.
// It lives in the storage driver, beside the repository's manifests, so
// every replica sharing the storage sees the same index, it is as durable
// as the manifests it describes, and deleting a repository deletes it. One
// small file per (subject, referrer) pair makes Add and Remove single
// writes with no read-modify-write race between replicas.
//
// A referrer may be indexed before its subject exists (the spec allows
// pushing an artifact first); entries stay when the subject is deleted.
type Referrers struct {
	driver storagedriver.StorageDriver
}

// NewReferrers returns the index kept in driver.
func NewReferrers(driver storagedriver.StorageDriver) *Referrers {
	return &Referrers{driver: driver}
}

// Add records desc as a referrer of subject in repo. Adding the same
// referrer again replaces its descriptor.
func (x *Referrers) Add(ctx context.Context, repo string, subject digest.Digest, desc v1.Descriptor) error {
	if err := subject.Validate(); err != nil {
		return fmt.Errorf("oci: referrers of %q: %w", subject, err)
	}
	b, err := json.Marshal(desc)
	if err != nil {
		return fmt.Errorf("oci: encoding referrer %s: %w", desc.Digest, err)
	}
	if err := x.driver.PutContent(ctx, referrerPath(repo, subject, desc.Digest), b); err != nil {
		return fmt.Errorf("oci: indexing referrer %s of %s in %s: %w", desc.Digest, subject, repo, err)
	}
	return nil
}

// Remove forgets referrer as a referrer of subject in repo; removing one
// that is not indexed is not an error.
func (x *Referrers) Remove(ctx context.Context, repo string, subject, referrer digest.Digest) error {
	err := x.driver.Delete(ctx, referrerPath(repo, subject, referrer))
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("oci: unindexing referrer %s of %s in %s: %w", referrer, subject, repo, err)
	}
	return nil
}

// List returns the referrers of subject in repo, ordered by digest (a
// stable order every replica agrees on, which pagination relies on), with
// only those whose artifactType is artifactType when it is not empty. No
// referrers is an empty list, not an error.
func (x *Referrers) List(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]v1.Descriptor, error) {
	out, _, err := x.Page(ctx, repo, subject, artifactType, "", 0)
	return out, err
}

// Page returns what List returns, from the first referrer whose digest
// sorts after last (from the start when last is empty), at most size of
// them (size <= 0: no bound), and whether more follow. It lists the
// subject's referrers but reads only those it returns, those the filter
// skips, and one more: a page of a subject with many referrers costs a
// listing and about size reads, not one read per referrer.
func (x *Referrers) Page(ctx context.Context, repo string, subject digest.Digest, artifactType, last string, size int) ([]v1.Descriptor, bool, error) {
	dir := subjectDir(repo, subject)
	files := map[string]string{} // digest named by a file's path → the file
	err := x.driver.Walk(ctx, dir, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			files[digestOfPath(dir, fi.Path())] = fi.Path()
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, false, fmt.Errorf("oci: listing referrers of %s in %s: %w", subject, repo, err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if name > last {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := []v1.Descriptor{}
	for _, name := range names {
		b, err := x.driver.GetContent(ctx, files[name])
		if isNotFound(err) {
			continue // removed while listing
		}
		if err != nil {
			return nil, false, fmt.Errorf("oci: reading referrer %s: %w", files[name], err)
		}
		var d v1.Descriptor
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, false, fmt.Errorf("oci: decoding referrer %s: %w", files[name], err)
		}
		if d.Digest.String() != name {
			continue // not a referrer file (a stray object)
		}
		if artifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		if size > 0 && len(out) == size {
			return out, true, nil
		}
		out = append(out, d)
	}
	return out, false, nil
}

// digestOfPath is the digest named by file <dir>/<alg>/<encoded>.
func digestOfPath(dir, file string) string {
	rel := strings.TrimPrefix(file, dir+"/")
	alg, enc := path.Split(rel)
	return strings.TrimSuffix(alg, "/") + ":" + enc
}

// isNotFound reports whether err is the driver's "no such path".
func isNotFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}
