package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/oci"
)

// aliasCursorKey (in stateSpace) is where the alias window starts.
const aliasCursorKey = "aliases-after"

// AliasCandidate is a registry-wide blob alias (oci.BlobAliasRoot: a
// sha512 digest recorded for anonymous mounts) a pass would delete
// because the blob it names is not stored. (The aliases of a blob the
// pass deletes go with it: BlobCandidate.Aliases.)
type AliasCandidate struct {
	Alias digest.Digest `json:"alias"`
	Blob  digest.Digest `json:"blob"`
	Why   string        `json:"why"`
	// Since is the alias file's modification time (its last write).
	Since time.Time `json:"since"`
	path  string
}

// aliasFile is one alias file of the window, read.
type aliasFile struct {
	fi    storagedriver.FileInfo
	alias digest.Digest
	blob  digest.Digest
}

// readAliases reads the alias window (windowSize files after where the
// last pass stopped) and each alias's blob. A file there that is not an
// alias, or whose content is no digest, is left alone.
func (c *Collector) readAliases(ctx context.Context) (window, []aliasFile, error) {
	w, err := c.readWindow(ctx, oci.BlobAliasRoot, aliasCursorKey, c.windowSize)
	if err != nil {
		return w, nil, err
	}
	files := make([]aliasFile, len(w.files))
	err = parallel(ctx, len(w.files), func(ctx context.Context, i int) error {
		fi := w.files[i]
		alias, ok := oci.BlobAliasAt(fi.Path())
		if !ok {
			return nil
		}
		b, err := c.opts.Driver.GetContent(ctx, fi.Path())
		var notFound storagedriver.PathNotFoundError
		switch {
		case errors.As(err, &notFound):
			return nil // deleted meanwhile
		case err != nil:
			return fmt.Errorf("gc: reading the alias %s: %w", alias, err)
		}
		if blob, err := digest.Parse(string(b)); err == nil {
			files[i] = aliasFile{fi: fi, alias: alias, blob: blob}
		}
		return nil
	})
	return w, slices.DeleteFunc(files, func(f aliasFile) bool { return f.alias == "" }), err
}

// planAliases decides on the aliases read: one naming a blob candidate
// of p is added to it (deleted in the same batch, before the blob's
// data); one whose blob is not stored (stored answers) and that was
// written longer than the grace period ago is an AliasCandidate.
func (c *Collector) planAliases(p *Plan, files []aliasFile, stored map[digest.Digest]bool, now time.Time) {
	candidate := make(map[digest.Digest]int, len(p.Blobs))
	for i, b := range p.Blobs {
		candidate[b.Digest] = i
	}
	for _, f := range files {
		if i, ok := candidate[f.blob]; ok {
			p.Blobs[i].Aliases = append(p.Blobs[i].Aliases, f.alias)
			p.Blobs[i].aliasPaths = append(p.Blobs[i].aliasPaths, f.fi.Path())
			continue
		}
		if age := now.Sub(f.fi.ModTime()); age >= c.opts.Grace && !stored[f.blob] {
			p.Aliases = append(p.Aliases, AliasCandidate{Alias: f.alias, Blob: f.blob, Since: f.fi.ModTime().UTC(), path: f.fi.Path(),
				Why: fmt.Sprintf("its blob %s is not stored; written %s ago (grace %s)", f.blob, age.Round(time.Second), c.opts.Grace)})
		}
	}
}

// aliasesOf lists the alias files a recheck keeps of as: still there,
// not written since the plan listed them, older than the grace period.
func (c *Collector) aliasesOf(ctx context.Context, as []AliasCandidate, now time.Time) ([]AliasCandidate, error) {
	var mu sync.Mutex
	var out []AliasCandidate
	err := parallel(ctx, len(as), func(ctx context.Context, i int) error {
		fi, ok, err := c.stored(ctx, as[i].path)
		if err != nil || !ok || fi.ModTime().After(as[i].Since) || now.Sub(fi.ModTime()) < c.opts.Grace {
			return err
		}
		mu.Lock()
		out = append(out, as[i])
		mu.Unlock()
		return nil
	})
	return out, err
}
