package layers

import (
	"context"
	"io"
)

// The compressibility sample Index takes on the way: one chunk of file
// content in sampleEvery (counted across the layer), each compressed
// alone with zstd at its default level: an estimate of what `zstd -3`
// makes of the layer (TestZstdEstimateIsClose keeps it within 0.8–1.3×
// of zstd on the whole tar). It costs about a thirty-second of
// compressing the layer.
const (
	sampleChunk = 64 << 10
	sampleEvery = 32
)

// sampler reads file contents, compressing the sampled chunks.
type sampler struct {
	buf, dst    []byte
	chunks      int
	raw, packed int64
}

// read consumes r to its end, looking at ctx every ctxEvery chunks
// (16 MiB): one file may be gigabytes.
func (s *sampler) read(ctx context.Context, r io.Reader) error {
	if s.buf == nil {
		s.buf = make([]byte, sampleChunk)
	}
	for {
		n := 0
		var err error
		for n < len(s.buf) && err == nil {
			var k int
			k, err = r.Read(s.buf[n:])
			n += k
		}
		if n > 0 {
			if s.chunks%sampleEvery == 0 {
				s.dst = zEncoder.EncodeAll(s.buf[:n], s.dst[:0])
				s.raw += int64(n)
				s.packed += int64(len(s.dst))
			}
			s.chunks++
			if s.chunks%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// zstdEstimate is the zstd size x's sample predicts for its content, 0
// without a sample.
func (x *LayerIndex) zstdEstimate() int64 {
	if x.SampleBytes <= 0 {
		return 0
	}
	return int64(float64(x.TarBytes()) * float64(x.SampleZstdBytes) / float64(x.SampleBytes))
}
