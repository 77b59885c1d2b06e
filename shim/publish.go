package shim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/push"
)

// upload is what every push of one upload shares.
type upload struct {
	archive   *metadata.Archive
	requester push.Requester
	override  string
}

// blobLink is a blob this upload linked (mounted) into a repository.
type blobLink struct {
	repo distribution.Repository
	blob digest.Digest
}

// publish puts every image into its targets, all or nothing: every
// manifest of every image (children before their index) is gated first,
// with the blobs it needs linked into its repository; only when all of
// them passed are they committed together — stored, tagged, recorded, and
// only then announced. When one is refused, the others that passed are
// recorded as withdrawn and the blob links removed, so that nothing of the
// upload becomes visible. l learns the manifests that are new to the
// registry, and what the accepted images reference.
func (in *Ingester) publish(ctx context.Context, staging reference.Named, images []*image, targets [][]Target, u *Upload, l *ledger, up upload) (_ []Image, err error) {
	var links []blobLink
	var pushes []*push.Push
	defer func() {
		if err != nil {
			in.unlink(ctx, links)
		}
	}()
	type root struct {
		target Target
		img    *image
		x      *push.Push
	}
	var roots []root
	for i, img := range images {
		for _, t := range targets[i] {
			named, err := reference.WithName(t.Repository)
			if err != nil {
				return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("invalid repository name %q", t.Repository))
			}
			repo, err := in.opts.Namespace.Repository(ctx, named)
			if err != nil {
				return nil, fmt.Errorf("shim: opening repository %s: %w", t.Repository, err)
			}
			obs := &observer{u: u}
			err = img.root.walk(map[digest.Digest]bool{}, func(n *node) error {
				if err := in.mount(ctx, repo, staging, n.blobs, &links); err != nil {
					return err
				}
				if err := in.noteNew(ctx, n.digest, l); err != nil {
					return err
				}
				in.rememberDiffIDs(ctx, n)
				isRoot := n == img.root
				if !isRoot {
					if skip, err := in.alreadyThere(ctx, repo, n.digest, pushes); err != nil || skip {
						return err
					}
				}
				x := &push.Push{Repository: t.Repository, MediaType: n.mediaType, Payload: n.payload,
					Source: metadata.SourceTarUpload, Requester: up.requester, Override: up.override, Archive: up.archive, Observer: obs}
				if isRoot {
					x.Tags = t.Tags
					roots = append(roots, root{target: t, img: img, x: x})
				}
				if err := in.opts.Pipeline.Gate(ctx, x, pushes...); err != nil {
					return err
				}
				pushes = append(pushes, x)
				return nil
			})
			if err != nil {
				in.withdraw(ctx, pushes, err)
				return nil, err
			}
		}
	}
	if err := in.opts.Pipeline.Commit(ctx, pushes...); err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(roots))
	for _, r := range roots {
		rec := r.x.Record()
		out = append(out, Image{Repository: r.target.Repository, Tags: append([]string{}, r.target.Tags...),
			Digest: r.img.root.digest.String(), MediaType: r.img.root.mediaType,
			Size: rec.Size, Scan: rec.Scan, RecordID: rec.ID})
	}
	for _, img := range images {
		l.keep(img)
	}
	return out, nil
}

// alreadyThere reports whether manifest d need not be pushed to repo: it
// is stored there, or an earlier push of this upload carries it.
func (in *Ingester) alreadyThere(ctx context.Context, repo distribution.Repository, d digest.Digest, pushes []*push.Push) (bool, error) {
	if slices.ContainsFunc(pushes, func(x *push.Push) bool {
		return x.Repository == repo.Named().Name() && x.CanonicalDigest() == d
	}) {
		return true, nil
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return false, fmt.Errorf("shim: manifests of %s: %w", repo.Named().Name(), err)
	}
	ok, err := ms.Exists(ctx, d)
	if err != nil {
		return false, fmt.Errorf("shim: checking manifest %s: %w", d, err)
	}
	return ok, nil
}

// withdraw records the pushes that passed the gate as not published,
// because of err (another manifest of the upload was refused, or the
// upload failed).
func (in *Ingester) withdraw(ctx context.Context, pushes []*push.Push, err error) {
	reason := "not published: the upload failed before it was committed"
	var refusal errcode.Error
	if errors.As(err, &refusal) {
		reason = "not published: another manifest of the same upload was refused: " + refusal.Message
	}
	for _, x := range pushes {
		in.opts.Pipeline.Withdraw(ctx, x, reason)
	}
}

// noteNew adds manifest d to l's created blobs when the registry does not
// hold it yet (nothing without a driver to clean up with).
func (in *Ingester) noteNew(ctx context.Context, d digest.Digest, l *ledger) error {
	if in.opts.Driver == nil {
		return nil
	}
	_, err := in.opts.Namespace.BlobStatter().Stat(ctx, d)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, distribution.ErrBlobUnknown):
		if !slices.Contains(l.created, d) {
			l.created = append(l.created, d)
		}
		return nil
	}
	return fmt.Errorf("shim: checking manifest %s: %w", d, err)
}

// linkParallel bounds the blob links (mounts) and diff_id records an
// upload writes at once: each is a small file and its directories
// fsynced (several milliseconds), one per layer, which in line added up
// after the last byte of the archive had been stored.
const linkParallel = 8

// mount links blobs from the staging repository into repo, up to
// linkParallel at once; each link it makes is noted in links.
func (in *Ingester) mount(ctx context.Context, repo distribution.Repository, staging reference.Named, blobs []digest.Digest, links *[]blobLink) error {
	bs := repo.Blobs(ctx)
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(linkParallel)
	for _, d := range blobs {
		g.Go(func() error {
			if _, err := bs.Stat(ctx, d); err == nil {
				return nil
			}
			from, err := reference.WithDigest(staging, d)
			if err != nil {
				return fmt.Errorf("shim: %w", err)
			}
			bw, err := bs.Create(ctx, storage.WithMountFrom(from))
			var mounted distribution.ErrBlobMounted
			if errors.As(err, &mounted) {
				mu.Lock()
				*links = append(*links, blobLink{repo: repo, blob: d})
				mu.Unlock()
				return nil
			}
			if err == nil {
				_ = bw.Cancel(ctx)
				err = errors.New("the blob was not found in the staging repository")
			}
			return fmt.Errorf("shim: linking blob %s into %s: %w", d, repo.Named().Name(), err)
		})
	}
	return g.Wait()
}

// unlink removes the blob links a failed upload made. It runs after a
// failure, so its own failures are logged, not returned.
func (in *Ingester) unlink(ctx context.Context, links []blobLink) {
	if in.opts.Driver == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	vacuum := storage.NewVacuum(ctx, in.opts.Driver)
	for _, l := range links {
		if err := vacuum.RemoveLayer(l.repo.Named().Name(), l.blob); err != nil {
			in.opts.Logger.ErrorContext(ctx, "removing a failed upload's blob link failed", "repository", l.repo.Named().Name(),
				"blob", l.blob.String(), "error", err.Error())
		}
	}
}

// observer turns the pipeline's stages into upload progress and notes a
// refusal.
type observer struct{ u *Upload }

func (o *observer) Stage(name string) { o.u.SetStage(name) }
func (o *observer) Recorded(rec metadata.Record) {
	if rec.Status == metadata.StatusRejected {
		o.u.noteRejection(rec)
	}
}

// rememberDiffIDs hands the diff_ids n's layers were checked against to
// Options.DiffIDs, up to linkParallel at once. A failure only costs the
// gate a second read, so it is logged, not returned.
func (in *Ingester) rememberDiffIDs(ctx context.Context, n *node) {
	if in.opts.DiffIDs == nil {
		return
	}
	var g errgroup.Group
	g.SetLimit(linkParallel)
	for blob, diffID := range n.diffIDs {
		g.Go(func() error {
			if err := in.opts.DiffIDs.Remember(ctx, blob, diffID); err != nil {
				in.opts.Logger.WarnContext(ctx, "remembering a layer's diff_id failed", "blob", blob.String(), "error", err.Error())
			}
			return nil
		})
	}
	_ = g.Wait()
}
