package shim

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync/atomic"

	"github.com/distribution/distribution/v3"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/ingest"
)

// Content formats of a file, as sniffed from its first bytes.
const (
	formatGzip  = "gzip"
	formatZstd  = "zstd"
	formatTar   = "tar"
	formatOther = "other"
)

// gzipLevel trades ratio for speed when the shim compresses layers: level
// 1 of klauspost's deflate is close to the standard library's level 6 on
// file system trees, at several times its speed.
const gzipLevel = flate.BestSpeed

// stored is one archive file as written to the blob store.
type stored struct {
	// raw is the digest and size of the file as it is in the archive.
	raw     digest.Digest
	rawSize int64
	// blob is the digest and size of what was stored (the compressed
	// form of a tar the shim compressed, else raw).
	blob     digest.Digest
	blobSize int64
	// format is how the stored blob is encoded (format* constants).
	format string
	// diffID is the digest of the uncompressed content of a layer; ""
	// when the file is not a tar or a compressed tar.
	diffID digest.Digest
	// diffErr says why diffID could not be computed.
	diffErr error
	// sum is the sha256 of the stored bytes, computed by the copy: blob
	// is its digest, and the commit's (onehash.go).
	sum hash.Hash
}

// sniff names the format of content starting with head (diffid.Sniff:
// the same detection as the gate's and the upload tap's).
func sniff(head []byte) string {
	switch diffid.Sniff(head) {
	case diffid.Gzip:
		return formatGzip
	case diffid.Zstd:
		return formatZstd
	case diffid.None:
		return formatTar // a tar, or an empty layer: only the end-of-archive blocks
	}
	return formatOther
}

// blobWriter writes archive files into a blob store, compressing tars
// on the way as configured.
type blobWriter struct {
	blobs distribution.BlobStore
	// repo names the repository of blobs; oneHash, when set, creates
	// its uploads (onehash.go), over the same storage.
	repo        string
	oneHash     *ingest.Ingester
	compression Compression
	// lim bounds the decompression of compressed layers (diff_ids).
	lim Limits
	// global, when set, tells which blobs exist in the registry before
	// this upload commits them: those that did not are listed in created,
	// for the cleanup of what no accepted manifest references.
	global  distribution.BlobStatter
	created []digest.Digest
	buf     *bufio.Reader
	// Encoders Reset for each layer (encoder): at most two per upload.
	freeGz []*gzipWriter
	freeZs []*zstd.Encoder
	// ending is the last stored file's end, still running (overlap.go).
	ending *ending
	// tap, when set, takes each layer's uncompressed bytes (layertap.go).
	tap LayerTap
}

// store streams r (the whole file) into a new blob and commits it.
func (w *blobWriter) store(ctx context.Context, r io.Reader) (*stored, error) {
	st, err := w.start(ctx, r)
	if werr := w.wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// start streams r (the whole file) into a new blob and returns once r is
// read to its end, with the file's digest, size, format and diff_id set;
// the blob's end (its last compressed blocks, the layer sink's Finish,
// the commit) goes on on a goroutine of its own (overlap.go) after the
// previous file's end, which start waits for, is done. The returned
// record's blob and blobSize are set, and the blob committed, once w.wait
// returned nil. An error of the previous end is returned here.
func (w *blobWriter) start(ctx context.Context, r io.Reader) (*stored, error) {
	if w.buf == nil {
		// Only for the sniff's Peek: the copy's large reads (1 MiB
		// chunks) bypass a small buffer and go straight into the chunk.
		w.buf = bufio.NewReaderSize(r, 4<<10)
	} else {
		w.buf.Reset(r)
	}
	br := w.buf
	head, _ := br.Peek(512)
	format := sniff(head)

	bw := w.create(ctx) // while the copy starts
	raw := sha256.New()
	st := &stored{format: format}
	sink := w.beginLayer(ctx, format)
	// flush, when set, ends the copy: the compressor's last blocks
	// stored, st's blob fields set; release gives the encoder back.
	var flush func() error
	var release func()
	var err error
	switch {
	case format == formatTar && w.compression != None:
		st, flush, release, err = w.compress(br, bw, raw, sinkWriter(sink))
	case format == formatGzip || format == formatZstd:
		st, err = copyVerifyingDiffID(br, bw, raw, format, w.lim, sinkWriter(sink))
	default:
		var n int64
		n, err = copyFanout(br, bw, raw, sinkWriter(sink))
		st.rawSize, st.blobSize = n, n
		st.raw = digest.NewDigest(digest.SHA256, raw)
		st.blob, st.sum = st.raw, raw
		if format == formatTar {
			st.diffID = st.raw
		}
	}
	// The previous file's end first: at most one runs at a time.
	if werr := w.wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		_ = w.end(ctx, bw, st, sink, flush, err) // cancels the upload, tells the sink
		if release != nil {
			release()
		}
		return nil, err
	}
	w.finishLater(func() error { return w.end(ctx, bw, st, sink, flush, nil) }, release)
	return st, nil
}

// end finishes a blob whose bytes were all read: the compressor's last
// blocks (flush, may be nil), the layer sink's Finish, and the commit
// under st.blob. After a failed copy (copyErr) it abandons the blob:
// the upload is cancelled, the sink told. The committed blob goes on
// w.created when it was new to the registry.
func (w *blobWriter) end(ctx context.Context, c *creating, st *stored, sink LayerSink, flush func() error, copyErr error) error {
	err := copyErr
	if flush != nil {
		if ferr := flush(); err == nil {
			err = ferr
		}
	}
	up, cerr := c.upload()
	if err == nil {
		err = cerr
	}
	if sink != nil {
		switch {
		case err != nil:
			sink.Finish("", err)
		case st.diffErr != nil:
			sink.Finish(st.blob, st.diffErr)
		default:
			sink.Finish(st.blob, nil)
		}
	}
	if err == nil {
		err = w.commit(ctx, up, st)
	}
	if err != nil && cerr == nil {
		_ = up.Cancel(context.WithoutCancel(ctx))
	}
	return err
}

// commit commits up as st.blob, noting it in w.created when it is new.
func (w *blobWriter) commit(ctx context.Context, up blobUpload, st *stored) error {
	isNew, err := w.isNew(ctx, st.blob)
	if err != nil {
		return err
	}
	if _, err := up.Commit(ctx, v1.Descriptor{Digest: st.blob, Size: st.blobSize}, st.sum); err != nil {
		return fmt.Errorf("shim: committing blob %s: %w", st.blob, err)
	}
	if isNew {
		w.created = append(w.created, st.blob)
	}
	return nil
}

// isNew reports whether the registry holds no blob d yet (false without
// a global statter: nothing is then cleaned up).
func (w *blobWriter) isNew(ctx context.Context, d digest.Digest) (bool, error) {
	if w.global == nil {
		return false, nil
	}
	_, err := w.global.Stat(ctx, d)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, distribution.ErrBlobUnknown):
		return true, nil
	}
	return false, fmt.Errorf("shim: checking blob %s: %w", d, err)
}

// compress stores the tar in br compressed; the tar's digest is its
// diff_id. It returns once br is read: flush then stores the
// compressor's last blocks and sets the record's blob and blobSize
// (always call it, also after an error), and release gives the encoder
// back for the next layer, after flush.
func (w *blobWriter) compress(br io.Reader, bw io.Writer, raw hash.Hash, plain io.Writer) (_ *stored, flush func() error, release func(), _ error) {
	comp := sha256.New()
	// Each compressed block is stored and hashed on two goroutines at
	// once, and handed back to the compressor when both are done: no
	// copy of it (parallel.go).
	outPar := newParallelWriter(bw, comp)
	out := &countWriter{w: outPar}
	enc, format, release, err := w.encoder(out)
	if err != nil {
		_ = outPar.Close()
		return nil, nil, nil, err
	}
	st := &stored{format: format, sum: comp}
	n, err := copyFanout(br, enc, raw, plain)
	st.rawSize = n
	if err == nil {
		d := digest.NewDigest(digest.SHA256, raw)
		st.raw, st.diffID = d, d
	}
	flush = func() error {
		var ferr error
		if cerr := enc.Close(); cerr != nil {
			ferr = fmt.Errorf("shim: compressing a layer: %w", cerr)
		}
		if perr := outPar.Close(); ferr == nil && perr != nil {
			ferr = perr
		}
		if ferr == nil {
			st.blob, st.blobSize = digest.NewDigest(digest.SHA256, comp), out.n
		}
		return ferr
	}
	return st, flush, release, err
}

// encoder is an encoder of w's compression writing to out, reset from
// the free ones or new (two at most exist: the one whose layer is
// ending, and the next layer's), its format, and the func that gives it
// back once closed. One encoder per layer would allocate its blocks and
// deflate state again for every layer (pgzip's buffer pool, registered
// with the runtime, stayed alive two GC cycles each, so that memory grew
// with the layer count).
func (w *blobWriter) encoder(out io.Writer) (io.WriteCloser, string, func(), error) {
	if w.compression == Zstd {
		var z *zstd.Encoder
		if k := len(w.freeZs); k > 0 {
			z, w.freeZs = w.freeZs[k-1], w.freeZs[:k-1]
			z.Reset(out)
		} else {
			var err error
			z, err = zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest),
				zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
			if err != nil {
				return nil, "", nil, fmt.Errorf("shim: zstd encoder: %w", err)
			}
		}
		return z, formatZstd, func() { w.freeZs = append(w.freeZs, z) }, nil
	}
	var z *gzipWriter
	if k := len(w.freeGz); k > 0 {
		z, w.freeGz = w.freeGz[k-1], w.freeGz[:k-1]
		z.Reset(out)
	} else {
		var err error
		workers, depth := gzipShape()
		if z, err = newGzipWriter(out, gzipLevel, workers, depth); err != nil {
			return nil, "", nil, fmt.Errorf("shim: gzip encoder: %w", err)
		}
	}
	return z, formatGzip, func() { w.freeGz = append(w.freeGz, z) }, nil
}

// gzipShape is the layer compressor's workers (one per core) and blocks
// in flight: one more per worker and two more, one being filled and one
// being stored, so that the workers keep going while the output stage
// stores and hashes (the memory: depth MiB of input and their compressed
// form per encoder, pgzip's 2×GOMAXPROCS+2 as before).
func gzipShape() (workers, depth int) {
	n := runtime.GOMAXPROCS(0)
	return n, 2*n + 2
}

// copyVerifyingDiffID stores a compressed file as it is while a second
// goroutine decompresses a copy to compute its diff_id. The decompression
// is bounded like the archive's own: at most lim.MaxDecompressedBytes,
// and lim.MaxRatio times the compressed bytes once past 1 MiB; past a
// bound the copy fails with UPLOAD_TOO_LARGE. The decompressed bytes also
// go to plain.
func copyVerifyingDiffID(br io.Reader, bw io.Writer, raw hash.Hash, format string, lim Limits, plain io.Writer) (*stored, error) {
	pr, pw := io.Pipe()
	in := &sharedCount{w: pw}
	type result struct {
		d   digest.Digest
		err error
	}
	done := make(chan result, 1)
	go func() {
		h := sha256.New()
		var err error
		bounded := func(r io.Reader) io.Reader { return layerMeter(r, in, lim) }
		if format == formatGzip {
			var zr *pgzip.Reader
			if zr, err = pgzip.NewReaderN(pr, 1<<20, 2); err == nil {
				_, err = io.Copy(io.MultiWriter(h, plain), bounded(zr))
				_ = zr.Close()
			}
		} else {
			var zr *zstd.Decoder
			if zr, err = zstd.NewReader(pr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow),
				zstd.WithDecoderMaxMemory(uint64(lim.MaxDecompressedBytes))); err == nil {
				_, err = io.Copy(io.MultiWriter(h, plain), bounded(zr))
				zr.Close()
			}
		}
		if isCodeError(err) {
			pr.CloseWithError(err) // a bound: the copy stops here
		} else {
			_, _ = io.Copy(io.Discard, pr) // let the writer finish whatever happened
		}
		done <- result{digest.NewDigest(digest.SHA256, h), err}
	}()
	n, err := copyFanout(br, bw, raw, in)
	pw.CloseWithError(err)
	res := <-done
	if err != nil {
		return nil, err
	}
	d := digest.NewDigest(digest.SHA256, raw)
	st := &stored{raw: d, rawSize: n, blob: d, blobSize: n, format: format, sum: raw}
	if res.err != nil {
		st.diffErr = fmt.Errorf("its %s stream does not decompress: %v", format, res.err)
	} else {
		st.diffID = res.d
	}
	return st, nil
}

// layerMeter bounds the decompressed stream r of a layer whose compressed
// bytes go through in.
func layerMeter(r io.Reader, in *sharedCount, lim Limits) io.Reader {
	return &meter{r: r, limit: lim.MaxDecompressedBytes,
		tooBig: func() error {
			return tooLarge("a compressed layer in the archive decompresses to more than upload.maxdecompressedbytes (%d bytes)", lim.MaxDecompressedBytes)
		},
		check: func(n int64) error {
			if c := in.n.Load(); n > 1<<20 && n > lim.MaxRatio*max(c, 1) {
				return tooLarge("a compressed layer in the archive decompresses more than %d times its size (upload.maxratio): %d bytes from %d", lim.MaxRatio, n, c)
			}
			return nil
		}}
}

// sharedCount counts the bytes written through it, for a reader on
// another goroutine; it counts them before they are written, so that the
// reader never sees more bytes than the count.
type sharedCount struct {
	w io.Writer
	n atomic.Int64
}

func (c *sharedCount) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}

// copyFanout copies r to every writer of ws, each on its own goroutine
// (fanout.go), and returns when all of them have everything: the bytes
// read and the first read or write error.
func copyFanout(r io.Reader, ws ...io.Writer) (int64, error) {
	f := newFanout(ws...)
	n, err := f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
