package gc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// unindexedRoot is where the "not indexed" markers live, in storage (not
// in the fleet store, which is the one that failed):
//
//	/imagegate/gc/unindexed/<repository key>/<algorithm>/<encoded>
//
// <repository key> is the first 16 bytes of the SHA-256 of the
// repository's name, in hex (as the references index keys it: any name
// fits in one path element); the file holds the Marker as JSON.
const unindexedRoot = "/imagegate/gc/unindexed"

// maxMarkers bounds the markers one listing reads; more are reported as
// "at least" that many.
const maxMarkers = 10000

// ErrUnindexed: a push was accepted while the fleet store was unreachable
// (metadata.failmode open), so the references index may lack its manifest;
// until the markers are resolved garbage collection deletes nothing.
var ErrUnindexed = errors.New("garbage collection deletes nothing while manifests pushed during a metadata store outage are not in the references index yet: the next pass, or `imagegate gc --backfill` (POST /api/v1/gc/backfill), indexes them once the store answers")

// Marker says that Manifest of Repository was stored without its entry in
// the references index (the entry could not be written).
type Marker struct {
	Repository string        `json:"repository"`
	Manifest   digest.Digest `json:"manifest"`
	// At is when the push wrote the marker, before storing the manifest.
	At time.Time `json:"at"`
}

// Unindexed is the set of markers, in the registry's storage.
type Unindexed struct {
	driver storagedriver.StorageDriver
}

// NewUnindexed returns the markers kept in driver.
func NewUnindexed(driver storagedriver.StorageDriver) *Unindexed {
	return &Unindexed{driver: driver}
}

func markerPath(repo string, manifest digest.Digest) string {
	return path.Join(unindexedRoot, repoKey(repo), manifest.Algorithm().String(), manifest.Encoded())
}

// Mark writes the marker of (repo, manifest). A push writes it before it
// stores the manifest: a marker may name a manifest that was never
// stored (the push failed after), never the reverse.
func (u *Unindexed) Mark(ctx context.Context, repo string, manifest digest.Digest, at time.Time) error {
	b, err := json.Marshal(Marker{Repository: repo, Manifest: manifest, At: at.UTC()})
	if err != nil {
		return err
	}
	if err := u.driver.PutContent(ctx, markerPath(repo, manifest), b); err != nil {
		return fmt.Errorf("gc: marking %s@%s as not indexed: %w", repo, manifest, err)
	}
	return nil
}

// Clear removes the marker of (repo, manifest); an absent one is no
// error.
func (u *Unindexed) Clear(ctx context.Context, repo string, manifest digest.Digest) error {
	err := u.driver.Delete(ctx, markerPath(repo, manifest))
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("gc: clearing the not-indexed marker of %s@%s: %w", repo, manifest, err)
	}
	return nil
}

// List returns up to limit markers (the bool: more were left). A marker
// file that does not parse is returned with its path's digest and no
// repository: it still blocks deletion, and an operator can remove it.
func (u *Unindexed) List(ctx context.Context, limit int) ([]Marker, bool, error) {
	var out []Marker
	more := false
	err := u.driver.Walk(ctx, unindexedRoot, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			return nil
		}
		if len(out) == limit {
			more = true
			return storagedriver.ErrFilledBuffer
		}
		m, ok, err := u.read(ctx, fi.Path())
		if ok {
			out = append(out, m)
		}
		return err
	})
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) && !errors.Is(err, storagedriver.ErrFilledBuffer) {
		return nil, false, fmt.Errorf("gc: listing the not-indexed markers: %w", err)
	}
	return out, more, nil
}

// Any reports whether at least one marker exists.
func (u *Unindexed) Any(ctx context.Context) (bool, error) {
	ms, _, err := u.List(ctx, 1)
	return len(ms) > 0, err
}

// read is the marker at p; false when it was cleared meanwhile.
func (u *Unindexed) read(ctx context.Context, p string) (Marker, bool, error) {
	b, err := u.driver.GetContent(ctx, p)
	var missing storagedriver.PathNotFoundError
	if errors.As(err, &missing) {
		return Marker{}, false, nil
	}
	if err != nil {
		return Marker{}, false, fmt.Errorf("gc: reading the not-indexed marker %s: %w", p, err)
	}
	var m Marker
	if json.Unmarshal(b, &m) != nil || m.Repository == "" || m.Manifest.Validate() != nil {
		return Marker{Manifest: digest.Digest(path.Base(path.Dir(p)) + ":" + path.Base(p))}, true, nil
	}
	return m, true, nil
}

// repoKey names repo in one path element: the first 16 bytes of the
// SHA-256 of its name, in hex.
func repoKey(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return hex.EncodeToString(sum[:16])
}
