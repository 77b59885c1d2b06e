package diffid

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// Limits bound the work of computing one diff_id. Zero fields are unlimited.
type Limits struct {
	// MaxBytes bounds the uncompressed size of one layer.
	MaxBytes int64
	// MaxRatio bounds uncompressed/compressed bytes once the uncompressed
	// stream passes ratioFloor (a decompression bomb is refused long
	// before it reaches MaxBytes).
	MaxRatio int64
}

// ratioFloor is the uncompressed size below which MaxRatio is not applied:
// tiny layers of zeros compress extremely well and cost nothing.
const ratioFloor = 64 << 20

// zstdMaxWindow bounds the window a zstd layer may ask the decoder for
// (what the zstd CLI uses without --long is 8 MiB): a frame declaring a
// larger one is a CorruptError. The upload tap allows less (TapZstdWindow).
const zstdMaxWindow = 64 << 20

// Compression names how a layer blob is stored, as detected from its first
// bytes (the way containerd and go-containerregistry detect it: a media
// type can say gzip for a plain tar).
type Compression string

const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// ErrTooLarge is matched (errors.Is) by a *LimitError: a layer passed Limits.
var ErrTooLarge = errors.New("diffid: layer decompresses beyond the limit")

// ErrCorrupt is matched (errors.Is) by a *CorruptError: a layer's
// compressed stream cannot be decoded.
var ErrCorrupt = errors.New("diffid: layer stream is corrupt")

// LimitError says which of Limits a layer passed.
type LimitError struct {
	// Ratio is true when MaxRatio was passed, false for MaxBytes.
	Ratio bool
	// Limit is the limit passed (bytes, or the ratio).
	Limit int64
	// Uncompressed and Compressed are the bytes seen when it was passed.
	Uncompressed, Compressed int64
}

func (e *LimitError) Error() string {
	if e.Ratio {
		return fmt.Sprintf("decompresses to more than %d times its compressed size (%d bytes from %d)", e.Limit, e.Uncompressed, e.Compressed)
	}
	return fmt.Sprintf("decompresses to more than %d bytes", e.Limit)
}

// Is makes a LimitError match ErrTooLarge.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// CorruptError is a layer whose compressed stream does not decode.
type CorruptError struct {
	Compression Compression
	Err         error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("it is not a valid %s stream: %v", e.Compression, e.Err)
}

// Is makes a CorruptError match ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Layer is what Compute learnt about one layer blob.
type Layer struct {
	DiffID digest.Digest
	// Size is the uncompressed size in bytes.
	Size        int64
	Compression Compression
}

// Compute reads the layer blob r to its end and returns the sha256 digest
// of its uncompressed content. It fails with an error wrapping ErrTooLarge
// when the content passes lim, ErrCorrupt when it cannot be decoded, and
// ctx's error once ctx ends (checked between reads).
func Compute(ctx context.Context, r io.Reader, lim Limits) (Layer, error) {
	return ComputeWith(ctx, digest.SHA256, r, lim)
}

// ComputeWith is Compute with the diff_id in algorithm alg (which must be
// available, digest.Algorithm.Available).
func ComputeWith(ctx context.Context, alg digest.Algorithm, r io.Reader, lim Limits) (Layer, error) {
	return computeTo(ctx, alg, r, lim, zstdMaxWindow, nil, "")
}

// computeTo is ComputeWith that also writes the uncompressed bytes to tee,
// when not nil, in the same read, with a zstd decoder that holds at most
// window bytes of history (a frame declaring more fails with a
// CorruptError wrapping zstd's ErrWindowSizeExceeded or
// ErrDecoderSizeExceeded). A failing tee stops receiving bytes; it
// never fails the computation (it is told why through its own means).
// blob, when not empty, is the digest r's bytes are stored under (verified
// by the registry when they were uploaded): when r turns out to be
// uncompressed and blob is in alg, blob is the diff_id and the bytes are
// not hashed again — only read for tee, or, without a tee, not read at
// all when r is an io.Seeker (the size comes from its end).
func computeTo(ctx context.Context, alg digest.Algorithm, r io.Reader, lim Limits, window uint64, tee io.Writer, blob digest.Digest) (Layer, error) {
	in := &countingReader{r: &ctxReader{ctx: ctx, r: r}}
	br := bufio.NewReaderSize(in, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return Layer{}, fmt.Errorf("diffid: reading layer: %w", err)
	}
	var plain io.Reader = br
	c := None
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Layer{}, &CorruptError{Compression: Gzip, Err: err}
		}
		defer zr.Close()
		plain, c = zr, Gzip
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(window))
		if err != nil {
			return Layer{}, &CorruptError{Compression: Zstd, Err: err}
		}
		defer zr.Close()
		plain, c = zr, Zstd
	}
	h := alg.Digester()
	var dst io.Writer = h.Hash()
	known := c == None && blob != "" && blob.Algorithm() == alg
	if s, ok := r.(io.Seeker); ok && known && tee == nil {
		return knownLayer(s, blob, lim)
	}
	switch {
	case known && tee != nil:
		dst = &teeWriter{hash: io.Discard, tee: tee}
	case known:
		dst = io.Discard
	case tee != nil:
		dst = &teeWriter{hash: h.Hash(), tee: tee}
	}
	n, err := copyBounded(dst, plain, in, lim)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Layer{}, fmt.Errorf("diffid: %w", ctxErr)
		}
		if errors.Is(err, ErrTooLarge) {
			return Layer{}, err
		}
		if c != None && !errors.Is(err, errSource) {
			return Layer{}, &CorruptError{Compression: c, Err: err}
		}
		return Layer{}, fmt.Errorf("diffid: reading layer: %w", err)
	}
	if known {
		return Layer{DiffID: blob, Size: n, Compression: c}, nil
	}
	return Layer{DiffID: h.Digest(), Size: n, Compression: c}, nil
}

// knownLayer is the Layer of an uncompressed blob whose diff_id is its
// digest and whose bytes nobody wants: its size is taken from the end of
// s, not read (an uncompressed layer's ratio is 1: only MaxBytes applies).
func knownLayer(s io.Seeker, blob digest.Digest, lim Limits) (Layer, error) {
	size, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return Layer{}, fmt.Errorf("diffid: sizing layer: %w: %w", errSource, err)
	}
	if lim.MaxBytes > 0 && size > lim.MaxBytes {
		return Layer{}, &LimitError{Limit: lim.MaxBytes, Uncompressed: size, Compressed: size}
	}
	return Layer{DiffID: blob, Size: size, Compression: None}, nil
}

// errSource marks a failure of the underlying blob reader (storage), as
// opposed to the decoder.
var errSource = errors.New("reading the blob")

// copyBounded copies src into dst, failing with ErrTooLarge as soon as the
// copied bytes pass lim given the compressed bytes read so far from in.
func copyBounded(dst io.Writer, src io.Reader, in *countingReader, lim Limits) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n += int64(k)
			if lim.MaxBytes > 0 && n > lim.MaxBytes {
				return n, &LimitError{Limit: lim.MaxBytes, Uncompressed: n, Compressed: in.n}
			}
			if lim.MaxRatio > 0 && n > ratioFloor && n > lim.MaxRatio*max(in.n, 1) {
				return n, &LimitError{Ratio: true, Limit: lim.MaxRatio, Uncompressed: n, Compressed: in.n}
			}
			_, _ = dst.Write(buf[:k]) // hash.Hash never fails; teeWriter swallows its tee's errors
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			if in.err != nil && errors.Is(err, in.err) {
				return n, fmt.Errorf("%w: %w", errSource, err)
			}
			return n, err
		}
	}
}

// countingReader counts the bytes read from r and keeps r's last error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// ctxReader fails reads once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// teeWriter writes to hash and to tee until tee fails once; then to hash
// only. It never returns an error.
type teeWriter struct {
	hash io.Writer
	tee  io.Writer
	err  error
}

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.hash.Write(p)
	if t.err == nil {
		if _, err := t.tee.Write(p); err != nil {
			t.err = err
		}
	}
	return len(p), nil
}
