package gc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/oci"
)

// refsSpace is the fleet space of the references index.
const refsSpace = "gc-refs"

// Entry is what one stored manifest references.
type Entry struct {
	Repository string        `json:"repository"`
	Manifest   digest.Digest `json:"manifest"`
	// Blobs are the blobs the manifest holds: its config and layers, and
	// its own manifest blob.
	Blobs []digest.Digest `json:"blobs"`
	// Children are the manifests an index lists.
	Children []digest.Digest `json:"children,omitempty"`
	// Subject is the manifest a referrer refers to.
	Subject digest.Digest `json:"subject,omitempty"`
	// Written is when the entry was written (the push's commit, or the
	// backfill).
	Written time.Time `json:"written"`
}

// Referenced is every digest e names other than its own and its subject:
// what a push of it touches.
func (e Entry) Referenced() []digest.Digest {
	out := make([]digest.Digest, 0, len(e.Blobs)+len(e.Children))
	for _, d := range e.Blobs {
		if d != e.Manifest {
			out = append(out, d)
		}
	}
	return append(out, e.Children...)
}

// EntryOf describes manifest m of repo stored under canonical, with its
// payload: index children (manifest media types) apart from blobs.
func EntryOf(repo string, canonical digest.Digest, m distribution.Manifest, payload []byte, now time.Time) Entry {
	e := Entry{Repository: repo, Manifest: canonical, Blobs: []digest.Digest{canonical}, Written: now.UTC()}
	for _, d := range m.References() {
		if isManifestType(d.MediaType) {
			e.Children = append(e.Children, d.Digest)
		} else {
			e.Blobs = append(e.Blobs, d.Digest)
		}
	}
	if s, ok := oci.Subject(payload); ok {
		e.Subject = s
	}
	return e
}

// isManifestType reports whether mediaType is that of a manifest (an
// index's child) rather than a blob.
func isManifestType(mediaType string) bool {
	switch mediaType {
	case v1.MediaTypeImageManifest, v1.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json":
		return true
	}
	return strings.HasSuffix(mediaType, ".manifest.v1+json") && !strings.Contains(mediaType, "layer")
}

// Refs is the references index in a fleet store.
type Refs struct {
	store fleet.Store
}

// NewRefs returns the index kept in store.
func NewRefs(store fleet.Store) *Refs { return &Refs{store: store} }

// refKey is the key of (repo, manifest): the repository's name hashed, so
// any name fits, then the digest.
func refKey(repo string, manifest digest.Digest) string {
	sum := sha256.Sum256([]byte(repo))
	return hex.EncodeToString(sum[:16]) + "/" + manifest.String()
}

// Put writes e; writing an entry that exists already replaces it.
func (r *Refs) Put(ctx context.Context, e Entry) error {
	value, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := refKey(e.Repository, e.Manifest)
	if _, err = r.store.Put(ctx, refsSpace, key, value, 0, 0); err == nil || !errors.Is(err, fleet.ErrConflict) {
		if err != nil {
			return fmt.Errorf("gc: indexing the references of %s@%s: %w", e.Repository, e.Manifest, err)
		}
		return nil // one write: the usual case, a manifest new to its repository
	}
	_, err = fleet.Update(ctx, r.store, refsSpace, key, 0, func([]byte, bool) ([]byte, error) { return value, nil })
	if err != nil {
		return fmt.Errorf("gc: indexing the references of %s@%s: %w", e.Repository, e.Manifest, err)
	}
	return nil
}

// Delete removes the entry of (repo, manifest); an absent one is not an
// error.
func (r *Refs) Delete(ctx context.Context, repo string, manifest digest.Digest) error {
	key := refKey(repo, manifest)
	for range 8 {
		it, err := r.store.Get(ctx, refsSpace, key)
		if errors.Is(err, fleet.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gc: removing the references of %s@%s: %w", repo, manifest, err)
		}
		err = r.store.Delete(ctx, refsSpace, key, it.Version)
		if !errors.Is(err, fleet.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("gc: removing the references of %s@%s: %w", repo, manifest, fleet.ErrConflict)
}

// Has reports whether (repo, manifest) is indexed.
func (r *Refs) Has(ctx context.Context, repo string, manifest digest.Digest) (bool, error) {
	_, err := r.store.Get(ctx, refsSpace, refKey(repo, manifest))
	if errors.Is(err, fleet.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// All calls fn for every entry, page by page; it stops at fn's first
// error or after limit entries (the bool: more were left).
func (r *Refs) All(ctx context.Context, limit int, fn func(Entry) error) (bool, error) {
	after, n := "", 0
	for {
		items, err := r.store.List(ctx, refsSpace, after, fleet.MaxListLimit)
		if err != nil {
			return false, fmt.Errorf("gc: listing the references index: %w", err)
		}
		for _, it := range items {
			if n == limit {
				return true, nil
			}
			var e Entry
			if err := json.Unmarshal(it.Value, &e); err != nil {
				return false, fmt.Errorf("gc: references entry %s: %w", it.Key, err)
			}
			if err := fn(e); err != nil {
				return false, err
			}
			n++
		}
		if len(items) < fleet.MaxListLimit {
			return false, nil
		}
		after = items[len(items)-1].Key
	}
}
