package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/diffid"
)

// checkDiffIDs makes sure the config's diff_ids are the digests of the
// layers' uncompressed content, position by position: the scanner keys
// its layer-analysis cache by them, so a forged one would file a layer's
// analysis under another layer's key (see package diffid). Layers whose
// bytes are not here (foreign layers) cannot be checked and are left to
// the scan stage's policy. Without a resolver nothing is checked.
func (v *Validator) checkDiffIDs(ctx context.Context, res *Result, blobs Blobs) error {
	return v.VerifyDiffIDs(ctx, res.Shape.Layers, res.Config.DiffIDs, blobs)
}

// VerifyDiffIDs checks that claimed[i] is the diff_id of layers[i] for
// every layer whose bytes are in blobs (see checkDiffIDs); claimed must be
// as long as layers. It returns an errcode.Error for a refusal and a plain
// error when storage failed.
func (v *Validator) VerifyDiffIDs(ctx context.Context, layers []v1.Descriptor, claimed []digest.Digest, blobs Blobs) error {
	if v.opts.DiffIDs == nil {
		return nil
	}
	if len(claimed) != len(layers) {
		return invalid(fmt.Sprintf("image config lists %d diff_ids but the manifest has %d layers", len(claimed), len(layers)),
			map[string]int{"diff_ids": len(claimed), "layers": len(layers)})
	}
	for i, d := range claimed {
		if err := d.Validate(); err != nil {
			return invalid(fmt.Sprintf("image config diff_id %d (%q) is not a valid digest", i+1, d),
				map[string]string{"diff_id": d.String(), "reason": err.Error()})
		}
	}
	got := make([]digest.Digest, len(layers))
	errs := make([]error, len(layers))
	open := func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) { return blobs.Open(ctx, d) }
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, l := range layers {
		if IsForeignLayer(l.MediaType) && len(l.URLs) > 0 {
			continue
		}
		if earlier(layers, claimed, i) >= 0 {
			continue // the same blob with the same claim: resolved once, copied below
		}
		wg.Go(func() {
			got[i], errs[i] = v.opts.DiffIDs.DiffID(ctx, l.Digest, claimed[i].Algorithm(), open)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// The first failure cancelled the others: report it, not theirs.
	if i := slices.IndexFunc(errs, func(err error) bool { return err != nil && !errors.Is(err, context.Canceled) }); i >= 0 {
		return layerError(layers[i].Digest, errs[i])
	}
	if i := slices.IndexFunc(errs, func(err error) bool { return err != nil }); i >= 0 {
		return layerError(layers[i].Digest, errs[i])
	}
	for i, l := range layers {
		if j := earlier(layers, claimed, i); j >= 0 {
			got[i] = got[j]
		}
		if got[i] != "" && got[i] != claimed[i] {
			return invalid(fmt.Sprintf("image config lists diff_id %s for layer %d (%s), but that layer's uncompressed content has digest %s",
				claimed[i], i+1, l.Digest, got[i]),
				map[string]any{"layer": i + 1, "digest": l.Digest, "claimed_diff_id": claimed[i], "actual_diff_id": got[i]})
		}
	}
	return nil
}

// earlier is the first j < i with the same layer blob and the same
// claimed diff_id as i, or -1.
func earlier(layers []v1.Descriptor, claimed []digest.Digest, i int) int {
	for j := range i {
		if layers[j].Digest == layers[i].Digest && claimed[j] == claimed[i] {
			return j
		}
	}
	return -1
}

// layerError turns a failure to resolve layer's diff_id into the refusal a
// client can act on, or returns a storage failure as it is.
func layerError(layer digest.Digest, err error) error {
	var tooLarge *diffid.LimitError
	var corrupt *diffid.CorruptError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		setting := "validation.maxuncompressedlayerbytes"
		if tooLarge.Ratio {
			setting = "validation.maxlayerratio"
		}
		return denied(fmt.Sprintf("layer %s %s; the limit is %s", layer, tooLarge, setting),
			map[string]any{"digest": layer, "limit": setting, "max": tooLarge.Limit,
				"uncompressed_bytes": tooLarge.Uncompressed, "compressed_bytes": tooLarge.Compressed})
	case errors.As(err, &corrupt):
		return errcode.ErrorCodeManifestInvalid.WithMessage(fmt.Sprintf("layer %s cannot be decompressed: %s", layer, corrupt)).
			WithDetail(map[string]string{"digest": layer.String(), "compression": string(corrupt.Compression)})
	default:
		return fmt.Errorf("validate: diff_id of layer %s: %w", layer, err)
	}
}
