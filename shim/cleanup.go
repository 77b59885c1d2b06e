package shim

import (
	"context"
	"errors"
	"path"
	"strings"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// ledger is what one upload wrote into the registry's blob store, for the
// cleanup once it ends.
type ledger struct {
	// created are the blobs (layers, configs, other files, manifests)
	// that did not exist before this upload committed them.
	created []digest.Digest
	// kept are the blobs and manifests the upload's accepted images
	// reference; empty when the upload failed.
	kept map[digest.Digest]bool
}

// keep marks everything img references as kept.
func (l *ledger) keep(img *image) {
	if l.kept == nil {
		l.kept = map[digest.Digest]bool{}
	}
	_ = img.root.walk(map[digest.Digest]bool{}, func(n *node) error {
		l.kept[n.digest] = true
		for _, b := range n.blobs {
			l.kept[b] = true
		}
		return nil
	})
}

// candidates are the created blobs no accepted manifest references.
func (l *ledger) candidates() map[string]digest.Digest {
	out := map[string]digest.Digest{}
	for _, d := range l.created {
		if !l.kept[d] && d.Algorithm() == digest.SHA256 {
			out[d.Encoded()] = d
		}
	}
	return out
}

// cleanup removes the blobs this upload created that no accepted manifest
// of it references — all of them when it failed — unless some repository
// links them by now: a concurrent push of the same content, or another
// upload's staging repository. It runs after the upload's own links are
// gone (staging dropped, failed publications reverted). A blob that
// existed before the upload is never a candidate.
//
// Links are found by one walk of the repositories tree, serialised per
// Ingester so that a burst of refused uploads costs one walk at a time.
// A push that links a candidate between that walk and the deletion (a
// window of one walk) would lose the blob, as with distribution's garbage
// collector; the client's next push of it uploads it again. Failures are
// logged: the upload's answer does not depend on them.
func (in *Ingester) cleanup(ctx context.Context, l *ledger) {
	cands := l.candidates()
	if len(cands) == 0 || in.opts.Driver == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	in.sweep.Lock()
	defer in.sweep.Unlock()
	linked, err := in.linked(ctx, cands)
	if err != nil {
		in.opts.Logger.WarnContext(ctx, "finding links to an upload's blobs failed; they are left for garbage collection",
			"blobs", len(cands), "error", err.Error())
		return
	}
	vacuum := storage.NewVacuum(ctx, in.opts.Driver)
	removed := 0
	for enc, d := range cands {
		if linked[enc] {
			continue
		}
		if err := vacuum.RemoveBlob(d.String()); err != nil && !isPathNotFound(err) {
			in.opts.Logger.WarnContext(ctx, "removing an upload's unreferenced blob failed", "digest", d.String(), "error", err.Error())
			continue
		}
		removed++
	}
	in.opts.Logger.DebugContext(ctx, "upload cleanup", "candidates", len(cands), "removed", removed)
}

// linked reports which of the candidates (by encoded sha256) some
// repository links: a layer link, a manifest revision or a tag index.
func (in *Ingester) linked(ctx context.Context, cands map[string]digest.Digest) (map[string]bool, error) {
	linked := map[string]bool{}
	err := in.opts.Driver.Walk(ctx, strings.TrimSuffix(repositoriesRoot, "/"), func(fi storagedriver.FileInfo) error {
		p := fi.Path()
		if fi.IsDir() {
			if path.Base(p) == "_uploads" {
				return storagedriver.ErrSkipDir
			}
			return nil
		}
		if path.Base(p) != "link" {
			return nil
		}
		dir := path.Dir(p)
		if enc := path.Base(dir); path.Base(path.Dir(dir)) == "sha256" {
			if _, ok := cands[enc]; ok {
				linked[enc] = true
			}
		}
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return nil, err
	}
	return linked, nil
}

// isPathNotFound reports whether err says a path does not exist.
func isPathNotFound(err error) bool {
	var missing storagedriver.PathNotFoundError
	return errors.As(err, &missing)
}
