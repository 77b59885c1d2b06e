package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
)

// Analyzer builds layer indexes (as a diffid.Tap, or by reading a blob
// once more) and image reports from them. It is safe for concurrent use.
type Analyzer struct {
	indexes  Indexes
	resolver *diffid.Resolver
	limits   layers.Limits
	recent   recent
	// shared and again count the layers indexed (Reads).
	shared, again atomic.Int64
}

// Reads returns how many layers were indexed from a read that happened
// anyway (the diff_id's, the tarball door's: shared) and how many were
// read once more for the analysis alone (again: layers known from before
// it existed, or whose diff_id was not verified).
func (a *Analyzer) Reads() (shared, again int64) { return a.shared.Load(), a.again.Load() }

// New returns an Analyzer keeping indexes in indexes and reading blobs
// whose index is missing through resolver (its decompression, limits and
// worker slots). Install it on resolver with resolver.SetTap to index
// layers in the read that verifies their diff_id.
func New(indexes Indexes, resolver *diffid.Resolver, limits layers.Limits) *Analyzer {
	return &Analyzer{indexes: indexes, resolver: resolver, limits: limits}
}

// Image is what Report reads of an image.
type Image struct {
	Layers []v1.Descriptor
	// History is the config's history (empty_layer entries are skipped
	// to pair the others with Layers, bottom first).
	History []v1.History
	// Open opens a layer blob as stored.
	Open diffid.Opener
}

// UnanalysableError says why an image's content cannot be analysed: a
// layer passed a limit (errors.Is(err, layers.ErrLimit)), is not a tar,
// does not decompress, or is not in the registry (non-distributable). It
// is the pusher's to fix, not a failure of the registry.
type UnanalysableError struct {
	// Layer is the 0-based position of the layer, -1 for the image.
	Layer  int
	Digest digest.Digest
	Err    error
}

func (e *UnanalysableError) Error() string {
	why := strings.TrimPrefix(e.Err.Error(), "layers: ")
	if e.Layer < 0 || e.Digest == "" {
		return fmt.Sprintf("image cannot be analysed: %s", why)
	}
	return fmt.Sprintf("layer %d (%s) cannot be analysed: %s", e.Layer+1, e.Digest, why)
}

func (e *UnanalysableError) Unwrap() error { return e.Err }

// Report analyses img: every layer's index (kept, or built by reading
// the blob once more), merged with the history by layers.Analyze. It
// returns an *UnanalysableError for content that cannot be analysed and
// any other error for a storage failure or ctx's end.
func (a *Analyzer) Report(ctx context.Context, img Image) (*layers.Report, error) {
	idx, err := a.indexAll(ctx, img)
	if err != nil {
		return nil, err
	}
	commands := createdBy(img.History, len(img.Layers))
	in := make([]layers.Layer, len(img.Layers))
	for i, l := range img.Layers {
		in[i] = layers.Layer{Digest: l.Digest, CompressedSize: l.Size, CreatedBy: commands[i], Index: idx[i]}
	}
	r, err := layers.Analyze(in, a.limits)
	if err != nil {
		var le *layers.LimitError
		if errors.As(err, &le) {
			return nil, &UnanalysableError{Layer: le.Layer, Err: err}
		}
		return nil, &UnanalysableError{Layer: -1, Err: err}
	}
	return r, nil
}

// indexAll returns the index of every layer of img, each distinct blob
// looked up or built once, concurrently (reads queue on the resolver's
// worker slots).
func (a *Analyzer) indexAll(ctx context.Context, img Image) ([]*layers.LayerIndex, error) {
	out := make([]*layers.LayerIndex, len(img.Layers))
	errs := make([]error, len(img.Layers))
	first := make(map[digest.Digest]int, len(img.Layers))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, l := range img.Layers {
		if len(l.URLs) > 0 {
			return nil, &UnanalysableError{Layer: i, Digest: l.Digest, Err: errors.New("it is non-distributable: its bytes are not in this registry")}
		}
		if _, ok := first[l.Digest]; ok {
			continue
		}
		first[l.Digest] = i
		wg.Go(func() {
			out[i], errs[i] = a.index(ctx, l.Digest, img.Open)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for i, err := range errs { // the first that is not the cancel it caused
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, a.layerError(i, img.Layers[i].Digest, err)
		}
	}
	for i, err := range errs {
		if err != nil {
			return nil, a.layerError(i, img.Layers[i].Digest, err)
		}
	}
	for i, l := range img.Layers {
		out[i] = out[first[l.Digest]]
	}
	return out, nil
}

// index returns blob's index: from this process's recent reads, from
// Indexes, or read once more.
func (a *Analyzer) index(ctx context.Context, blob digest.Digest, open diffid.Opener) (*layers.LayerIndex, error) {
	if o, ok := a.recent.take(blob); ok {
		return o.idx, o.err
	}
	if idx, ok, err := a.indexes.Get(ctx, blob); err != nil {
		return nil, fmt.Errorf("analysis: reading the index of %s: %w", blob, err)
	} else if ok {
		return idx, nil
	}
	if a.resolver == nil {
		return nil, errors.New("analysis: no resolver to read layers with")
	}
	s := a.newSink(ctx, blob)
	s.again = true
	if _, err := a.resolver.Read(ctx, blob, open, s); err != nil {
		return nil, err
	}
	return s.idx, s.err
}

// layerError classifies the failure to index layer i: content problems
// become an *UnanalysableError, the rest (storage, ctx) stay as they are.
func (a *Analyzer) layerError(i int, blob digest.Digest, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, new(*contentError)), errors.Is(err, layers.ErrLimit), errors.Is(err, diffid.ErrTooLarge), errors.Is(err, diffid.ErrCorrupt):
		return &UnanalysableError{Layer: i, Digest: blob, Err: err}
	}
	return err
}

// createdBy pairs history entries that are not empty_layer with n layers,
// bottom first; missing entries are "".
func createdBy(history []v1.History, n int) []string {
	out := make([]string, n)
	i := 0
	for _, h := range history {
		if h.EmptyLayer {
			continue
		}
		if i == n {
			break
		}
		out[i] = h.CreatedBy
		i++
	}
	return out
}
