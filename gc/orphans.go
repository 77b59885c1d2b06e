package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
)

// derivedKind is one store of objects derived from blobs and kept under
// the blob's digest: every entry of blob d is a file of dir(d), which is
// <root>/<algorithm>/<encoded> and holds nothing else, and is one of
// paths(d).
type derivedKind struct {
	// name is the kind in logs and the key of its window's cursor.
	name  string
	dir   func(digest.Digest) string
	paths func(digest.Digest) []string
}

// derivedKinds are what derivedPaths deletes with a blob.
var derivedKinds = []derivedKind{
	{"diffids", diffid.EntryDir, diffid.EntryPaths},
	{"layerindex", layers.EntryDir, layers.EntryPaths},
}

// root is the tree of k's entries: dir(d) is root/<algorithm>/<encoded>.
func (k derivedKind) root() string {
	return path.Dir(path.Dir(k.dir(digest.Canonical.FromString(""))))
}

// cursorKey (in stateSpace) is where k's window starts.
func (k derivedKind) cursorKey() string { return k.name + "-after" }

// blobOf is the blob whose entry dir is, false when dir is not one.
func (k derivedKind) blobOf(dir string) (digest.Digest, bool) {
	d := digest.NewDigestFromEncoded(digest.Algorithm(path.Base(path.Dir(dir))), path.Base(dir))
	if d.Validate() != nil || k.dir(d) != dir {
		return "", false
	}
	return d, true
}

// OrphanCandidate is what imagegate derived from a blob that is no
// longer stored — its diff_ids or its layer index, one entry folder — and
// a pass would delete: the blob went before passes deleted derived
// objects with it, or behind the registry's back. An entry is written
// just before its blob is committed (the tarball door indexes a layer as
// it stores it), so only entries older than the grace period are
// candidates.
type OrphanCandidate struct {
	Blob digest.Digest `json:"blob"`
	// Objects are the entries' storage paths.
	Objects []string `json:"objects"`
	Why     string   `json:"why"`
	// Since is the newest entry's modification time.
	Since time.Time `json:"since"`
	kind  derivedKind
	// listed are the entries' modification times as the plan saw them.
	listed map[string]time.Time
}

// readOrphans reads each derived kind's window (windowSize files after
// where the last pass stopped, per kind) and answers the entry folders
// whose files are all known entries written longer than the grace
// period ago: orphans if their blob is neither stored nor a candidate
// (planOrphans).
func (c *Collector) readOrphans(ctx context.Context, now time.Time) ([]window, []*OrphanCandidate, error) {
	var ws []window
	var groups []*OrphanCandidate
	for _, k := range derivedKinds {
		w, err := c.readWindow(ctx, k.root(), k.cursorKey(), c.windowSize)
		if err != nil {
			return nil, nil, err
		}
		ws = append(ws, w)
		var cur *OrphanCandidate
		young := false
		flush := func() {
			if cur != nil && !young {
				groups = append(groups, cur)
			}
			cur, young = nil, false
		}
		for _, fi := range w.files {
			dir := path.Dir(fi.Path())
			if cur == nil || k.dir(cur.Blob) != dir {
				flush()
				d, ok := k.blobOf(dir)
				if !ok {
					continue // not an entry: left alone
				}
				cur = &OrphanCandidate{Blob: d, kind: k, listed: map[string]time.Time{}}
			}
			if !slices.Contains(k.paths(cur.Blob), fi.Path()) || now.Sub(fi.ModTime()) < c.opts.Grace {
				young = true // unknown files, or an entry of a blob being stored: keep the folder
			}
			cur.Objects = append(cur.Objects, fi.Path())
			cur.listed[fi.Path()] = fi.ModTime()
			if fi.ModTime().After(cur.Since) {
				cur.Since = fi.ModTime().UTC()
			}
		}
		flush()
	}
	return ws, groups, nil
}

// planOrphans adds to p the groups whose blob is neither stored (stored
// answers) nor a candidate of p (whose entries go with it).
func (c *Collector) planOrphans(p *Plan, groups []*OrphanCandidate, stored map[digest.Digest]bool, now time.Time) {
	candidate := make(map[digest.Digest]bool, len(p.Blobs))
	for _, b := range p.Blobs {
		candidate[b.Digest] = true
	}
	for _, g := range groups {
		if stored[g.Blob] || candidate[g.Blob] {
			continue
		}
		g.Why = fmt.Sprintf("%s of blob %s, which is not stored; written %s ago (grace %s)", g.kind.name, g.Blob,
			now.Sub(g.Since).Round(time.Second), c.opts.Grace)
		p.Orphans = append(p.Orphans, *g)
	}
}

// entriesOf is what a recheck keeps of o: every file now in its folder
// (one the plan did not list, past the window's end, included), when all
// are known entries older than the grace period and none was rewritten
// since the plan listed it; false otherwise.
func (c *Collector) entriesOf(ctx context.Context, o OrphanCandidate, now time.Time) (OrphanCandidate, bool, error) {
	var files []string
	keep := true
	err := c.opts.Driver.Walk(ctx, o.kind.dir(o.Blob), func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			keep = false // entries are files: something else lives here
			return storagedriver.ErrSkipDir
		}
		listed, seen := o.listed[fi.Path()]
		if !slices.Contains(o.kind.paths(o.Blob), fi.Path()) || now.Sub(fi.ModTime()) < c.opts.Grace || (seen && fi.ModTime().After(listed)) {
			keep = false
		}
		files = append(files, fi.Path())
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return o, false, fmt.Errorf("gc: walking the %s of %s: %w", o.kind.name, o.Blob, err)
	}
	o.Objects = files
	return o, keep && len(files) > 0, nil
}
