package shim

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/middleware"
)

// undo is one change publish made, to revert if a later image fails.
type undo struct {
	gated distribution.Repository
	plain distribution.Repository
	tag   string        // a tag set ("" for a manifest put)
	prev  v1.Descriptor // what the tag pointed at before (zero: nothing)
	set   digest.Digest // what this upload pointed the tag at
	man   digest.Digest // a manifest that did not exist before
	link  digest.Digest // a blob linked (mounted) into plain by this upload
}

// publish puts every image into its targets through the gate: blobs
// mounted from the staging repository, children before their index, tags
// last. When the gate refuses one (or storing fails), the changes already
// made by this upload are reverted — tags restored, new manifests deleted
// (both recorded by the gate), blob links removed — so that none of the
// upload stays visible. l learns the manifests that are new to the
// registry, and what the accepted images reference.
func (in *Ingester) publish(ctx context.Context, staging reference.Named, images []*image, targets [][]Target, u *Upload, l *ledger) (_ []Image, err error) {
	var undos []undo
	defer func() {
		if err != nil {
			in.revert(ctx, undos)
		}
	}()
	var out []Image
	for i, img := range images {
		for _, t := range targets[i] {
			named, err := reference.WithName(t.Repository)
			if err != nil {
				return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("invalid repository name %q", t.Repository))
			}
			plain, err := in.opts.Namespace.Repository(ctx, named)
			if err != nil {
				return nil, fmt.Errorf("shim: opening repository %s: %w", t.Repository, err)
			}
			gated := in.opts.Gate.Wrap(plain, metadata.SourceTarUpload)
			obs := &observer{u: u}
			octx := middleware.WithObserver(ctx, obs)
			err = img.root.walk(map[digest.Digest]bool{}, func(n *node) error {
				if err := in.mount(ctx, plain, staging, n.blobs, &undos); err != nil {
					return err
				}
				if err := in.noteNew(ctx, n.digest, l); err != nil {
					return err
				}
				in.rememberDiffIDs(ctx, n)
				return in.put(octx, gated, plain, n, n == img.root, t.Tags, obs, &undos)
			})
			if err != nil {
				return nil, err
			}
			res := Image{Repository: t.Repository, Tags: append([]string{}, t.Tags...), Digest: img.root.digest.String(),
				MediaType: img.root.mediaType, Size: int64(len(img.root.payload))}
			if obs.rec != nil {
				res.Size, res.Scan, res.RecordID = obs.rec.Size, obs.rec.Scan, obs.rec.ID
			}
			out = append(out, res)
		}
	}
	for _, img := range images {
		l.keep(img)
	}
	return out, nil
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

// put puts one manifest through the gate; the root of an image gets the
// tags. A child that already exists in the repository is left as it is.
func (in *Ingester) put(ctx context.Context, gated, plain distribution.Repository, n *node, root bool, tags []string, obs *observer, undos *[]undo) error {
	ms, err := gated.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("shim: manifests of %s: %w", gated.Named().Name(), err)
	}
	exists, err := ms.Exists(ctx, n.digest)
	if err != nil {
		return fmt.Errorf("shim: checking manifest %s: %w", n.digest, err)
	}
	if exists && !root {
		return nil
	}
	man, _, err := distribution.UnmarshalManifest(n.mediaType, n.payload)
	if err != nil {
		return invalid("manifest %s does not parse as %s: %v", n.digest, n.mediaType, err)
	}
	var opts []distribution.ManifestServiceOption
	var prev []v1.Descriptor
	if root {
		ts := plain.Tags(ctx)
		for _, t := range tags {
			opts = append(opts, distribution.WithTag(t))
			d, err := ts.Get(ctx, t)
			var unknown distribution.ErrTagUnknown
			if err != nil && !errors.As(err, &unknown) {
				return fmt.Errorf("shim: reading tag %s: %w", t, err)
			}
			prev = append(prev, d)
		}
	}
	if _, err := ms.Put(ctx, man, opts...); err != nil {
		return err
	}
	if !exists {
		*undos = append(*undos, undo{gated: gated, plain: plain, man: n.digest})
	}
	if !root {
		return nil
	}
	obs.u.SetStage(StageRecording)
	desc := v1.Descriptor{MediaType: n.mediaType, Digest: n.digest, Size: int64(len(n.payload))}
	ts := gated.Tags(ctx)
	for i, t := range tags {
		if err := ts.Tag(ctx, t, desc); err != nil {
			return fmt.Errorf("shim: tagging %s:%s: %w", gated.Named().Name(), t, err)
		}
		*undos = append(*undos, undo{gated: gated, plain: plain, tag: t, prev: prev[i], set: desc.Digest})
	}
	return nil
}

// mount links blobs from the staging repository into repo; each link it
// makes is an undo.
func (in *Ingester) mount(ctx context.Context, repo distribution.Repository, staging reference.Named, blobs []digest.Digest, undos *[]undo) error {
	bs := repo.Blobs(ctx)
	for _, d := range blobs {
		if _, err := bs.Stat(ctx, d); err == nil {
			continue
		}
		from, err := reference.WithDigest(staging, d)
		if err != nil {
			return fmt.Errorf("shim: %w", err)
		}
		bw, err := bs.Create(ctx, storage.WithMountFrom(from))
		var mounted distribution.ErrBlobMounted
		if errors.As(err, &mounted) {
			*undos = append(*undos, undo{plain: repo, link: d})
			continue
		}
		if err == nil {
			_ = bw.Cancel(ctx)
			err = errors.New("the blob was not found in the staging repository")
		}
		return fmt.Errorf("shim: linking blob %s into %s: %w", d, repo.Named().Name(), err)
	}
	return nil
}

// revert undoes changes newest first. It runs after a failure, so its own
// failures are logged, not returned.
func (in *Ingester) revert(ctx context.Context, undos []undo) {
	ctx = context.WithoutCancel(ctx)
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		var err error
		switch {
		case u.link != "":
			if in.opts.Driver != nil {
				err = storage.NewVacuum(ctx, in.opts.Driver).RemoveLayer(u.plain.Named().Name(), u.link)
			}
		case u.tag != "":
			err = in.revertTag(ctx, u)
		default:
			var ms distribution.ManifestService
			if ms, err = u.gated.Manifests(ctx); err == nil {
				err = ms.Delete(ctx, u.man)
			}
		}
		if err != nil {
			in.opts.Logger.ErrorContext(ctx, "reverting a failed upload's change failed", "repository", u.plain.Named().Name(),
				"tag", u.tag, "manifest", u.man.String(), "link", u.link.String(), "error", err.Error())
		}
	}
}

// revertTag sets tag u.tag back to what it named before the upload — but
// only while it still names what this upload set (a push since then wins),
// and only to a manifest still in the repository (a tag is never pointed
// at content the gate no longer vouches for); otherwise, if it is still
// ours, it is removed through the gate (recorded as a tag deletion).
// Reading and writing the tag are two steps: a push landing between them
// is overwritten (distribution's tag store has no compare-and-set).
func (in *Ingester) revertTag(ctx context.Context, u undo) error {
	cur, err := u.plain.Tags(ctx).Get(ctx, u.tag)
	var unknown distribution.ErrTagUnknown
	if errors.As(err, &unknown) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shim: reading tag %s: %w", u.tag, err)
	}
	if cur.Digest != u.set {
		in.opts.Logger.WarnContext(ctx, "not reverting a tag another push has moved since", "repository", u.plain.Named().Name(),
			"tag", u.tag, "now", cur.Digest.String())
		return nil
	}
	if u.prev.Digest != "" {
		ms, err := u.plain.Manifests(ctx)
		if err != nil {
			return fmt.Errorf("shim: manifests of %s: %w", u.plain.Named().Name(), err)
		}
		if ok, err := ms.Exists(ctx, u.prev.Digest); err != nil {
			return fmt.Errorf("shim: checking manifest %s: %w", u.prev.Digest, err)
		} else if ok {
			return u.plain.Tags(ctx).Tag(ctx, u.tag, u.prev)
		}
	}
	return u.gated.Tags(ctx).Untag(ctx, u.tag)
}

// observer turns the gate's stages into upload progress and keeps the
// record of the image's manifest.
type observer struct {
	u   *Upload
	rec *metadata.Record
}

func (o *observer) Stage(name string) { o.u.SetStage(name) }
func (o *observer) Recorded(rec metadata.Record) {
	r := rec
	o.rec = &r
	if rec.Status == metadata.StatusRejected {
		o.u.noteRejection(rec)
	}
}

// rememberDiffIDs hands the diff_ids n's layers were checked against to
// Options.DiffIDs. A failure only costs the gate a second read, so it is
// logged, not returned.
func (in *Ingester) rememberDiffIDs(ctx context.Context, n *node) {
	if in.opts.DiffIDs == nil {
		return
	}
	for blob, diffID := range n.diffIDs {
		if err := in.opts.DiffIDs.Remember(ctx, blob, diffID); err != nil {
			in.opts.Logger.WarnContext(ctx, "remembering a layer's diff_id failed", "blob", blob.String(), "error", err.Error())
		}
	}
}
