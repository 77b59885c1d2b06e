package diffid

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/opencontainers/go-digest"
)

// Resolver gives the verified diff_id of layer blobs: remembered in its
// Store, or computed from the blob's bytes (at most Workers at a time
// across every caller, so concurrent pushes of big layers queue instead
// of taking every core) and then remembered. It is safe for concurrent use.
type Resolver struct {
	store  Store
	limits Limits
	slots  chan struct{}
	tap    Tap // SetTap (tap.go)
}

// NewResolver returns a Resolver over store; workers ≤ 0 means one per CPU.
func NewResolver(store Store, limits Limits, workers int) *Resolver {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Resolver{store: store, limits: limits, slots: make(chan struct{}, workers)}
}

// Opener opens a blob as stored.
type Opener func(ctx context.Context, d digest.Digest) (io.ReadCloser, error)

// DiffID returns the diff_id in algorithm alg of layer blob, opening it
// with open only when it is not remembered. Errors wrap ErrTooLarge or ErrCorrupt for a layer
// that cannot be accepted, ctx's error when ctx ends, and anything else
// for a storage failure. A failure to remember a computed diff_id is not
// an error (it is computed again next time).
func (r *Resolver) DiffID(ctx context.Context, blob digest.Digest, alg digest.Algorithm, open Opener) (digest.Digest, error) {
	if !alg.Available() {
		return "", fmt.Errorf("diffid: algorithm %q is not supported", alg)
	}
	if d, ok, err := r.store.Get(ctx, blob, alg); err != nil {
		return "", err
	} else if ok {
		return d, nil
	}
	var sink Sink
	if r.tap != nil {
		sink = r.tap.Open(ctx, blob)
	}
	l, err := r.compute(ctx, blob, alg, open, sink)
	if err != nil {
		return "", err
	}
	_ = r.store.Put(context.WithoutCancel(ctx), blob, l.DiffID)
	return l.DiffID, nil
}

// Remember records diffID for blob, computed by the caller from the blob's
// own bytes (the tarball door hashes layers as it stores them).
func (r *Resolver) Remember(ctx context.Context, blob, diffID digest.Digest) error {
	return r.store.Put(ctx, blob, diffID)
}
