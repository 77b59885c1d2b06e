package gc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
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

	// unreadable is set on a marker whose file did not parse (a write cut
	// short): Repository is then empty, Manifest what the path names (may
	// be invalid), At the file's modification time, and key the path's
	// repository key (gc/unreadable.go attributes it).
	unreadable bool
	path, key  string
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
	return u.clearFile(ctx, markerPath(repo, manifest))
}

// List returns up to limit markers (the bool: more were left). A marker
// file that does not parse is returned with what its path says — the
// digest, the repository's key — its modification time and no
// repository: it still blocks deletion until the collector attributes it
// (gc/unreadable.go).
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
		m, ok, err := u.read(ctx, fi)
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

// read is the marker of file fi; false when it was cleared meanwhile.
func (u *Unindexed) read(ctx context.Context, fi storagedriver.FileInfo) (Marker, bool, error) {
	p := fi.Path()
	b, err := u.driver.GetContent(ctx, p)
	var missing storagedriver.PathNotFoundError
	if errors.As(err, &missing) {
		return Marker{}, false, nil
	}
	if err != nil {
		return Marker{}, false, fmt.Errorf("gc: reading the not-indexed marker %s: %w", p, err)
	}
	// A marker is trusted only whole: JSON that parses, a repository
	// name, a digest, and the path they give — the one it was read from
	// (else clearing it would remove another file and this one would
	// block for good). Anything else is attributed by its path.
	var m Marker
	if json.Unmarshal(b, &m) != nil || m.Manifest.Validate() != nil || !validName(m.Repository) || markerPath(m.Repository, m.Manifest) != p {
		key, d := fromMarkerPath(p)
		return Marker{Manifest: d, At: fi.ModTime().UTC(), unreadable: true, path: p, key: key}, true, nil
	}
	return m, true, nil
}

// fromMarkerPath is what a marker's path names: the repository key and
// the manifest digest (either "" when the path is not a marker's).
func fromMarkerPath(p string) (key string, d digest.Digest) {
	parts := strings.Split(strings.TrimPrefix(p, unindexedRoot+"/"), "/")
	if len(parts) != 3 {
		return "", ""
	}
	if k, err := hex.DecodeString(parts[0]); err == nil && len(k) == 16 && parts[0] == strings.ToLower(parts[0]) {
		key = parts[0]
	}
	if d = digest.Digest(parts[1] + ":" + parts[2]); d.Validate() != nil {
		d = ""
	}
	return key, d
}

// clearFile removes the marker file at p; an absent one is no error.
func (u *Unindexed) clearFile(ctx context.Context, p string) error {
	err := u.driver.Delete(ctx, p)
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("gc: clearing the not-indexed marker %s: %w", p, err)
	}
	return nil
}

// validName reports whether repo is a repository name distribution
// accepts.
func validName(repo string) bool {
	_, err := reference.WithName(repo)
	return err == nil
}

// repoKey names repo in one path element: the first 16 bytes of the
// SHA-256 of its name, in hex.
func repoKey(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return hex.EncodeToString(sum[:16])
}
