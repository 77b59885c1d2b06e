package shim

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/imagegate/imagegate/diffid"
)

// Magic numbers of the compressions the shim understands.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow bounds the window a zstd stream may ask the decoder for
// (the zstd CLI uses at most 8 MiB below --long): a bounded decoder
// memory whatever the stream says.
const zstdMaxWindow = 64 << 20

// meter counts the bytes read through it and fails the read that goes
// past limit with tooBig.
type meter struct {
	r      io.Reader
	n      atomic.Int64
	limit  int64
	tooBig func() error
	// check, when set, runs after each read with the count so far.
	check func(n int64) error
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	total := m.n.Add(int64(n))
	if total > m.limit {
		return n, m.tooBig()
	}
	if m.check != nil {
		if cerr := m.check(total); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// stream is an opened upload: the tar reader over the decompressed body,
// and the meters progress and limits read.
type stream struct {
	tar *tar.Reader
	// rest is what the tar reader reads from: drained after the archive's
	// end so that limits and the compressed stream's checksum apply to it.
	rest         io.Reader
	compression  string // "gzip", "zstd" or "none"
	received     *meter
	decompressed *meter
	close        func()
}

// receivedMeter counts the body's bytes under upload.maxbytes.
func receivedMeter(body io.Reader, lim Limits) *meter {
	return &meter{r: body, limit: lim.MaxUploadBytes, tooBig: func() error {
		return tooLarge("the upload is larger than upload.maxbytes allows: %s", sizeText(lim.MaxUploadBytes))
	}}
}

// open detects the compression of the body by its magic bytes, checks
// that what it decompresses to is a tar archive, and returns the reader of
// its entries under lim. received meters the body.
func open(received *meter, lim Limits) (*stream, error) {
	s := &stream{compression: "none", close: func() {}, received: received}
	// Small enough that the large reads of a stored file (the fanout's
	// 1 MiB chunks) bypass it and go straight from the socket into the
	// chunk instead of through a copy (bufio.Reader reads directly into
	// p when it is empty and p is at least its size).
	br := bufio.NewReaderSize(s.received, 64<<10)
	magic, err := br.Peek(4)
	if len(magic) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("shim: reading the upload: %w", err)
		}
		return nil, invalid("the upload is empty")
	}
	var plain io.Reader = br
	src := &sourceErrors{r: br}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := pgzip.NewReaderN(src, 512<<10, 4)
		if err != nil {
			return nil, streamError(err)
		}
		s.compression, plain, s.close = "gzip", decoderErrors{dec: zr, src: src}, func() { _ = zr.Close() }
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(uint64(lim.MaxDecompressedBytes)))
		if err != nil {
			return nil, streamError(err)
		}
		s.compression, plain, s.close = "zstd", decoderErrors{dec: zr, src: src}, zr.Close
	}
	s.decompressed = &meter{r: plain, limit: lim.MaxDecompressedBytes, tooBig: func() error {
		return tooLarge("the archive decompresses to more than upload.maxdecompressedbytes (%d bytes)", lim.MaxDecompressedBytes)
	}}
	if s.compression != "none" {
		s.decompressed.check = func(n int64) error {
			if in := s.received.n.Load(); n > 1<<20 && n > lim.MaxRatio*max(in, 1) {
				return tooLarge("the archive decompresses more than %d times its size (upload.maxratio): %d bytes from %d", lim.MaxRatio, n, in)
			}
			return nil
		}
	}
	tb := bufio.NewReaderSize(s.decompressed, 64<<10)
	head, err := tb.Peek(512)
	if len(head) < 512 {
		s.close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, streamError(err)
		}
		what := "the body"
		if s.compression != "none" {
			what = "the body, once " + s.compression + "-decompressed,"
		}
		return nil, invalid("not a tar archive: %s holds only %d bytes (a tar header alone is 512)", what, len(head))
	}
	if !diffid.IsTarHeader(head) {
		s.close()
		if bytes.Count(head, []byte{0}) == len(head) {
			return nil, invalid("the tar archive is empty")
		}
		return nil, invalid("not a tar archive (nor gzip or zstd): no ustar header at the start of the %s stream", s.compression)
	}
	s.tar, s.rest = tar.NewReader(tb), tb
	return s, nil
}

// drain reads what follows the archive's end (padding) to the end of the
// body, under the limits, so that a gzip or zstd checksum is verified and
// a body that goes on past upload.maxbytes is refused.
func (s *stream) drain() error {
	_, err := io.Copy(io.Discard, s.rest)
	return streamError(err)
}

// streamError turns a failure to read the archive into the answer a
// client can act on: limits and our own errors pass, truncation and
// corruption become TARBALL_INVALID.
func streamError(err error) error {
	switch {
	case err == nil:
		return nil
	case isCodeError(err):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("the archive is truncated")
	case errors.Is(err, tar.ErrFieldTooLong):
		return invalid("a tar extended header (PAX records, GNU long name or link) is larger than the 1 MiB this registry reads")
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrInsecurePath):
		return invalid("malformed tar header: %v", err)
	case errors.Is(err, pgzip.ErrChecksum), errors.Is(err, pgzip.ErrHeader):
		return invalid("corrupt gzip stream: %v", err)
	case isDecoderError(err):
		return invalid("corrupt compressed stream: %v", err)
	}
	return fmt.Errorf("shim: reading the archive: %w", err)
}
