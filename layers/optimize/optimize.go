package optimize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/layers"
)

// Options say what Optimize does besides dropping what no container
// sees.
type Options struct {
	Squash      []Range     // runs of layers to merge (none: every layer stays its own)
	Compression Compression // of rewritten layers; "" is Gzip
	Limits      layers.Limits
	TempDir     string // for the rewritten layers ("": os.TempDir)
	// Upload, when set, is given each rewritten layer as soon as it is
	// written; its temporary file is then removed, so at most one exists
	// at a time and Result.Image can only be pushed where the layers
	// were uploaded. Without it the files stay until Result.Close.
	Upload func(ctx context.Context, l v1.Layer) error
	// DryRun measures the new layers (compressing them to nowhere) and
	// builds no image: Result.Image is nil and no file is written.
	DryRun bool
	// Note is the created_by of the empty_layer history line the new
	// image ends with ("imagegate optimize" when empty).
	Note string
}

// LayerResult describes one layer of the new image.
type LayerResult struct {
	Inputs []int  `json:"inputs"`       // the original layers it is made of (0-based)
	Before int64  `json:"before_bytes"` // their compressed bytes
	After  int64  `json:"after_bytes"`  // its compressed bytes; 0 when Empty
	Digest string `json:"digest,omitempty"`
	// Reused: the original blob, unchanged. Empty: nothing was left of
	// it; the new image has no such layer.
	Reused       bool  `json:"reused,omitempty"`
	Empty        bool  `json:"empty,omitempty"`
	DroppedFiles int   `json:"dropped_files"`
	DroppedBytes int64 `json:"dropped_bytes"` // uncompressed content bytes
}

// Result is what Optimize made.
type Result struct {
	Image  v1.Image      // the new image (nil on a dry run)
	Layers []LayerResult // one per group of original layers, empty ones included
	// Before and After are the compressed bytes of all layers, before
	// and after; DroppedFiles and DroppedBytes total the layers'.
	Before, After int64
	DroppedFiles  int
	DroppedBytes  int64
	files         []string
}

// Close removes the temporary files that remain (none with
// Options.Upload); Result.Image cannot be read afterwards.
func (r *Result) Close() error {
	var errs []error
	for _, f := range r.files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	r.files = nil
	return errors.Join(errs...)
}

// Optimize rewrites img (one platform's image, not an index) as the
// package documentation says. It reads each original layer twice (plan,
// then rewrite) and keeps none of their content; with Upload, at most
// one temporary file exists at a time. On error every temporary file is
// removed. Layers whose media type is not a plain, gzip or zstd tar
// (foreign, non-distributable) are an error, as is a squash or an
// emptied layer in an image whose history does not line up with its
// layers (rewriteHistory).
func Optimize(ctx context.Context, img v1.Image, o Options) (res *Result, err error) {
	if o.Compression == "" {
		o.Compression = Gzip
	}
	o.Limits = limits(o.Limits)
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("optimize: reading the manifest: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("optimize: reading the config: %w", err)
	}
	orig, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("optimize: listing the layers: %w", err)
	}
	if len(orig) == 0 {
		return nil, errors.New("optimize: the image has no layers")
	}
	for i, d := range m.Layers {
		if _, ok := compressionOf(d.MediaType); !ok {
			return nil, fmt.Errorf("optimize: layer %d has media type %s: only plain, gzip and zstd tar layers are rewritten", i+1, d.MediaType)
		}
	}
	grp, err := groups(len(orig), o.Squash)
	if err != nil {
		return nil, err
	}
	open := func(l int) (io.ReadCloser, error) { return orig[l].Uncompressed() }
	b := &budget{lim: o.Limits}
	entries := make([][]entry, len(orig))
	for l := range orig {
		rc, err := open(l)
		if err != nil {
			return nil, fmt.Errorf("optimize: opening layer %d: %w", l+1, err)
		}
		entries[l], err = readEntries(ctx, l, rc, b)
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	pl, err := plan(entries, grp, o.Limits)
	if err != nil {
		return nil, err
	}
	made := &Result{DroppedFiles: pl.DroppedFiles, DroppedBytes: pl.DroppedBytes}
	defer func() {
		if err != nil {
			made.Close() // every temporary file written so far
		}
	}()
	res = made
	oci := m.MediaType == types.OCIManifestSchema1 || o.Compression == Zstd
	var adds []mutate.Addendum
	for k := range pl.Layers {
		out := &pl.Layers[k]
		lr := LayerResult{Inputs: out.Inputs, DroppedFiles: out.DroppedFiles, DroppedBytes: out.DroppedBytes, Empty: out.Empty}
		for _, l := range out.Inputs {
			lr.Before += m.Layers[l].Size
		}
		var nl v1.Layer
		switch c, _ := compressionOf(m.Layers[out.Inputs[0]].MediaType); {
		case out.Empty:
		case out.Unchanged && c == o.Compression:
			nl, lr.Reused, lr.After, lr.Digest = orig[out.Inputs[0]], true, lr.Before, m.Layers[out.Inputs[0]].Digest.String()
			if mt := o.Compression.layerMediaType(oci); mt != m.Layers[out.Inputs[0]].MediaType {
				nl = mediaTyped{Layer: nl, mt: mt}
			}
		default:
			fl, err := res.write(ctx, out, pl, o, oci, open)
			if err != nil {
				return nil, err
			}
			lr.After, lr.Digest = fl.size, fl.digest.String()
			if fl.path != "" || o.Upload != nil {
				nl = fl
			}
		}
		res.Before += lr.Before
		res.After += lr.After
		res.Layers = append(res.Layers, lr)
		if nl != nil {
			mt, _ := nl.MediaType()
			adds = append(adds, mutate.Addendum{Layer: nl, MediaType: mt})
		}
	}
	if o.DryRun {
		return res, nil
	}
	if len(adds) == 0 {
		return nil, errors.New("optimize: nothing of the image is left (every layer is empty)")
	}
	res.Image, err = assemble(cfg, m, adds, grp, res.Layers, oci, o)
	return res, err
}

// write writes new layer out to a temporary file (to nowhere on a dry
// run), hands it to o.Upload if set (then removes the file) and returns
// it.
func (r *Result) write(ctx context.Context, out *OutLayer, pl *Plan, o Options, oci bool, open func(int) (io.ReadCloser, error)) (*fileLayer, error) {
	fl := &fileLayer{mt: o.Compression.layerMediaType(oci), comp: o.Compression}
	var w io.Writer = io.Discard
	var f *os.File
	if !o.DryRun {
		var err error
		if f, err = os.CreateTemp(o.TempDir, "imagegate-optimize-*.layer"); err != nil {
			return nil, fmt.Errorf("optimize: %w", err)
		}
		r.files = append(r.files, f.Name())
		fl.path, w = f.Name(), f
	}
	wr, err := writeLayer(ctx, w, out, pl, o.Compression, open)
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("optimize: writing %s: %w", f.Name(), cerr)
		}
	}
	if err != nil {
		return nil, err
	}
	fl.size = wr.size
	fl.digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", wr.digest.Sum(nil))}
	fl.diff = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", wr.diff.Sum(nil))}
	if o.Upload != nil && !o.DryRun {
		if err := o.Upload(ctx, fl); err != nil {
			return nil, fmt.Errorf("optimize: uploading layer %s: %w", fl.digest, err)
		}
		if err := os.Remove(fl.path); err != nil {
			return nil, fmt.Errorf("optimize: %w", err)
		}
		r.files = r.files[:len(r.files)-1]
		fl.path = ""
	}
	return fl, nil
}

// assemble builds the new image: the original config with the new
// layers' diff_ids and the rewritten history, the original manifest's
// annotations, in the OCI family when oci (else Docker schema 2).
func assemble(cfg *v1.ConfigFile, m *v1.Manifest, adds []mutate.Addendum, grp [][]int, lrs []LayerResult, oci bool, o Options) (v1.Image, error) {
	base := empty.Image
	if oci {
		base = mutate.MediaType(base, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("optimize: assembling the image: %w", err)
	}
	nc := cfg.DeepCopy()
	nc.RootFS.Type = "layers"
	nc.RootFS.DiffIDs = nil
	for _, a := range adds {
		d, err := a.Layer.DiffID()
		if err != nil {
			return nil, fmt.Errorf("optimize: a layer's diff_id: %w", err)
		}
		nc.RootFS.DiffIDs = append(nc.RootFS.DiffIDs, d)
	}
	emptied := make([]bool, len(lrs))
	var dropped int
	var bytes int64
	for i, lr := range lrs {
		emptied[i] = lr.Empty
		dropped += lr.DroppedFiles
		bytes += lr.DroppedBytes
	}
	note := o.Note
	if note == "" {
		note = "imagegate optimize"
	}
	h := v1.History{CreatedBy: note, EmptyLayer: true,
		Comment: fmt.Sprintf("dropped %d files (%d bytes) no container sees; compression %s", dropped, bytes, o.Compression)}
	if len(o.Squash) > 0 {
		h.Comment += "; squashed"
		for _, r := range o.Squash {
			h.Comment += " " + r.String()
		}
	}
	if nc.History, err = rewriteHistory(cfg.History, grp, emptied, h); err != nil {
		return nil, err
	}
	if img, err = mutate.ConfigFile(img, nc); err != nil {
		return nil, fmt.Errorf("optimize: setting the config: %w", err)
	}
	if len(m.Annotations) > 0 {
		img = mutate.Annotations(img, m.Annotations).(v1.Image)
	}
	return img, nil
}
