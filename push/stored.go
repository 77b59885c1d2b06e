package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/imageconfig"
	"github.com/imagegate/imagegate/validate"
)

// storedImage is an image manifest read back from storage.
type storedImage struct {
	mediaType string
	payload   []byte
	shape     validate.Shape
	rawConfig []byte
	config    v1.Image
	blobs     distribution.BlobStore
	// open reads a blob of the repository (Options.BlobReader, or blobs).
	open func(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
}

// maxStoredConfig bounds the image config read back.
const maxStoredConfig = 8 << 20

// loadImage reads image manifest d of repo and its whole config from
// storage, for an operation ("scanned") on stored images. An unknown
// manifest, an index, an artifact or a non-distributable layer is
// answered with an OCI error; anything else is a storage failure.
func (p *Pipeline) loadImage(ctx context.Context, repo string, d digest.Digest, done string) (*storedImage, error) {
	img, err := p.loadManifest(ctx, repo, d, done)
	if err != nil {
		return nil, err
	}
	err = img.readConfig(ctx, func(r io.Reader) error {
		var err error
		img.rawConfig, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	// A config stored before the gate bounded its entries may cost
	// gigabytes decoded, here and by the scanner: refuse it first.
	if err := validate.CheckConfigEntries(img.rawConfig); err != nil {
		return nil, err
	}
	if json.Unmarshal(img.rawConfig, &img.config) != nil {
		return nil, errcode.ErrorCodeManifestInvalid.WithMessage("the image config is not valid JSON")
	}
	return img, nil
}

// loadManifest reads image manifest d of repo, for an operation ("scanned",
// "analysed", "inspected") on stored images, with the errors of loadImage;
// its config is read by readConfig.
func (p *Pipeline) loadManifest(ctx context.Context, repo string, d digest.Digest, done string) (*storedImage, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, errcode.ErrorCodeNameInvalid.WithDetail(err.Error())
	}
	r, err := p.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("opening repository %s: %w", repo, err)
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	m, err := ms.Get(ctx, d)
	var unknown distribution.ErrManifestUnknownRevision
	if errors.As(err, &unknown) {
		return nil, errcode.ErrorCodeManifestUnknown.WithDetail(map[string]string{"repository": repo, "digest": d.String()})
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", d, err)
	}
	img := &storedImage{blobs: r.Blobs(ctx), open: p.opts.BlobReader}
	if img.open == nil {
		img.open = func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) { return img.blobs.Open(ctx, d) }
	}
	if img.mediaType, img.payload, err = m.Payload(); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(img.payload, &img.shape); err != nil || img.shape.Config == nil {
		return nil, errcode.ErrorCodeUnsupported.WithMessage(fmt.Sprintf("only image manifests can be %s: use each platform manifest of an index", done))
	}
	if !validate.IsImageConfig(img.shape.Config.MediaType) {
		return nil, errcode.ErrorCodeUnsupported.WithMessage(fmt.Sprintf("only images can be %s; this manifest's config is %q", done, img.shape.Config.MediaType))
	}
	for _, l := range img.shape.Layers {
		if validate.IsForeignLayer(l.MediaType) {
			return nil, errcode.ErrorCodeUnsupported.WithMessage(fmt.Sprintf("layer %s is non-distributable: its bytes are not in this registry, so it cannot be %s", l.Digest, done))
		}
	}
	return img, nil
}

// readConfig calls read with the stored config's bytes (at most
// maxStoredConfig of them), as a stream. A read error wrapping
// imageconfig.ErrInvalid is the OCI error MANIFEST_INVALID; any other is
// a storage failure, wrapped.
func (img *storedImage) readConfig(ctx context.Context, read func(io.Reader) error) error {
	c := img.shape.Config.Digest
	rc, err := img.open(ctx, c)
	if err != nil {
		return fmt.Errorf("opening config %s: %w", c, err)
	}
	defer rc.Close()
	err = read(io.LimitReader(rc, maxStoredConfig))
	if errors.Is(err, imageconfig.ErrInvalid) {
		return errcode.ErrorCodeManifestInvalid.WithMessage("the image config is not valid JSON")
	}
	if err != nil {
		return fmt.Errorf("reading config %s: %w", c, err)
	}
	return nil
}
