package trivy

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// storedLayer is a compressed layer blob in registry storage. It must be
// used through a pointer: Trivy inspects layers with
// reflect.TypeOf(layer).Elem().
type storedLayer struct {
	ctx  context.Context
	desc v1.Descriptor
	open func(context.Context, digest.Digest) (io.ReadCloser, error)
}

func (l *storedLayer) Digest() (v1.Hash, error)                { return l.desc.Digest, nil }
func (l *storedLayer) Size() (int64, error)                    { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (ggcrtypes.MediaType, error) { return l.desc.MediaType, nil }

// Compressed opens the blob as stored. Reads fail once the scan's context
// ends, so a cancelled scan stops reading a large layer promptly.
func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.open(l.ctx, digest.Digest(l.desc.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", l.desc.Digest, err)
	}
	return &ctxReader{ctx: l.ctx, rc: rc}, nil
}

// ctxReader fails reads with the context's error once it is done.
type ctxReader struct {
	ctx context.Context
	rc  io.ReadCloser
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.rc.Read(p)
}

func (r *ctxReader) Close() error { return r.rc.Close() }
