package optimize

import (
	"errors"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// fileLayer is a rewritten layer in a temporary file, with the digests
// computed while it was written (no second read to hash it). Once the
// file is removed (after an upload) it still describes the blob, but
// cannot be read: Compressed and Uncompressed fail.
type fileLayer struct {
	path         string // "" once removed
	digest, diff v1.Hash
	size         int64
	mt           types.MediaType
	comp         Compression
}

var _ v1.Layer = (*fileLayer)(nil)

// errRemoved is returned when a removed layer's bytes are asked for.
var errRemoved = errors.New("optimize: the rewritten layer was uploaded and its temporary file removed")

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diff, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Compressed opens the blob.
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	if l.path == "" {
		return nil, errRemoved
	}
	return os.Open(l.path)
}

// Uncompressed opens the blob's tar.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	if l.comp == Zstd {
		d, err := zstd.NewReader(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &readCloser{Reader: d, close: func() error { d.Close(); return f.Close() }}, nil
	}
	g, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: g, close: func() error { g.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// mediaTyped is an original layer reused as is under another media type
// of the same bytes (a Docker gzip layer in an OCI manifest).
type mediaTyped struct {
	v1.Layer
	mt types.MediaType
}

func (l mediaTyped) MediaType() (types.MediaType, error) { return l.mt, nil }
