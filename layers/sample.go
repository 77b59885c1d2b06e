package layers

import (
	"context"
	"io"
)

// The compressibility sample Index takes on the way: chunks of file
// content (counted across the layer), each compressed alone with zstd at
// its default level: an estimate of what `zstd -3` makes of the layer
// (TestZstdEstimateIsClose keeps it within 0.8–1.3× of zstd on the whole
// tar).
//
// One chunk in sampleEvery is compressed until sampleRun bytes have
// been; then the spacing doubles each time another sampleRun bytes have
// been, each sample counting for the chunks its spacing stands for. A
// chunk is 64 KiB or a file's last bytes, so a layer of small files is
// sampled at one in 32 (each sample a small file: cheap), and a layer of
// large files at one in 32 up to 16 MiB, then with a number of samples
// that grows with the logarithm of its size: 25 for 128 MiB (1/82 of it
// instead of 1/32), 49 for 1 GiB (1/334). At one in 32 throughout, the
// sample's zstd was 5–8 % of the tarball door's CPU on text.
const (
	sampleChunk = 64 << 10
	sampleEvery = 32
	sampleRun   = 8 * sampleChunk
)

// sampler reads file contents, compressing the sampled chunks.
type sampler struct {
	buf, dst []byte
	// chunks is the number of chunks read; next the one to sample, every
	// the current spacing, run the bytes sampled at it.
	chunks, next, every, run int
	// raw and packed sum the sampled chunks' sizes before and after
	// compression, each weighted by every/sampleEvery; taken is the
	// bytes compressed (the sample's cost).
	raw, packed, taken int64
}

// read consumes r to its end, looking at ctx every ctxEvery chunks
// (16 MiB): one file may be gigabytes.
func (s *sampler) read(ctx context.Context, r io.Reader) error {
	if s.buf == nil {
		s.buf = make([]byte, sampleChunk)
		s.every = sampleEvery
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
			if s.chunks == s.next {
				s.take(s.buf[:n])
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

// take compresses one sampled chunk and schedules the next sample.
func (s *sampler) take(chunk []byte) {
	s.dst = zEncoder.EncodeAll(chunk, s.dst[:0])
	s.taken += int64(len(chunk))
	weight := int64(s.every / sampleEvery)
	s.raw += weight * int64(len(chunk))
	s.packed += weight * int64(len(s.dst))
	s.next += s.every
	if s.run += len(chunk); s.run >= sampleRun {
		s.run = 0
		s.every *= 2
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
