package analysis

import (
	"context"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/layers"
)

// Indexes keeps one LayerIndex per layer blob (layers.Store; the
// registry uses layers.DriverStore on its storage driver). A blob digest
// names one content forever, so an entry never changes and replicas
// writing the same one agree.
type Indexes interface {
	// Get returns the index kept for blob, false if none is.
	Get(ctx context.Context, blob digest.Digest) (*layers.LayerIndex, bool, error)
	// Put keeps idx, built from blob's own bytes, for blob.
	Put(ctx context.Context, blob digest.Digest, idx *layers.LayerIndex) error
}

var _ Indexes = (layers.Store)(nil)

// maxRecent and maxRecentEntries bound the layers a process remembers
// between the read that indexed them (validation's) and the analysis
// that uses them.
const (
	maxRecent        = 256
	maxRecentEntries = 1 << 20
)

// recent holds the outcome of the last layers indexed in this process:
// the index (so the analysis stage of the same push need not read it
// back from storage) or why it could not be built (so a layer past a
// limit is not read once more to find that out again). Bounded by
// maxRecent and maxRecentEntries: when full it is emptied; a miss costs
// a read from Indexes (or of the blob).
type recent struct {
	mu      sync.Mutex
	m       map[digest.Digest]outcome
	entries int
}

type outcome struct {
	idx *layers.LayerIndex
	err error
}

func (r *recent) put(blob digest.Digest, idx *layers.LayerIndex, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	if idx != nil {
		n = len(idx.Entries)
	}
	if r.m == nil || len(r.m) >= maxRecent || r.entries+n > maxRecentEntries {
		r.m, r.entries = make(map[digest.Digest]outcome), 0
	}
	if n > maxRecentEntries {
		return
	}
	r.m[blob] = outcome{idx, err}
	r.entries += n
}

// take returns the outcome for blob, forgetting an index (the analysis
// that asked holds it now) but keeping a failure.
func (r *recent) take(blob digest.Digest) (outcome, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.m[blob]
	if ok && o.idx != nil {
		delete(r.m, blob)
		r.entries -= len(o.idx.Entries)
	}
	return o, ok
}
