package shim

import (
	"errors"
	"io"
	"sync"
)

// corruptStream is an error a decompressor made of its input: the upload
// is not a valid gzip or zstd stream. zstd's errors are mostly
// unexported, so they cannot be listed; tagging them where they arise is
// what keeps every one of them a TARBALL_INVALID rather than a 500.
type corruptStream struct{ err error }

func (c corruptStream) Error() string { return c.err.Error() }
func (c corruptStream) Unwrap() error { return c.err }

// sourceErrors remembers the last error the reader under a decompressor
// returned (it may read ahead in another goroutine).
type sourceErrors struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (s *sourceErrors) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return n, err
}

func (s *sourceErrors) last() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// decoderErrors tags the errors of dec, a decompressor reading src, as
// corruptStream — except the end of the stream, OCI errors (limits) and
// the errors of src itself, which pass as they are.
type decoderErrors struct {
	dec io.Reader
	src *sourceErrors
}

func (d decoderErrors) Read(p []byte) (int, error) {
	n, err := d.dec.Read(p)
	if err == nil || errors.Is(err, io.EOF) || isCodeError(err) {
		return n, err
	}
	if src := d.src.last(); src != nil && errors.Is(err, src) {
		return n, err
	}
	return n, corruptStream{err}
}
