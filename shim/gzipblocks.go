package shim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
)

// The tarball door's gzip: one gzip member made of gzBlockSize blocks of
// the stream, each deflated on its own with the previous block's last
// gzTailSize bytes as its dictionary — byte for byte what pgzip (the
// door's compressor before, v1.2.6, same block size and level) writes,
// so a layer stored again keeps its digest.
//
// Why not pgzip: it starts a goroutine per block and lets the runtime
// interleave all the blocks in flight (a new goroutine runs next on its
// P, preempted ones wait in the global queue), while its output
// goroutine waits for the oldest. The execution traces of the door
// showed a core idle with every later block compressed, the queue full
// and the oldest block alone still running (head of line: 1–4 % of the
// Ps' time during an upload; docs/performance.md, "Fourth pass"). Here
// exactly GOMAXPROCS workers take the blocks in stream order, so the
// oldest block is always the one furthest along, and the output
// goroutine — storing and hashing the compressed blocks — is decoupled
// from them by the blocks in flight.
const (
	gzBlockSize = 1 << 20
	gzTailSize  = 16 << 10
)

// errGzipClosed is returned by a Write after Close.
var errGzipClosed = errors.New("shim: write to a closed gzip writer")

// gzBlock is one block of the stream on its way through a worker to the
// output goroutine, then back to the writer's free list.
type gzBlock struct {
	in   []byte // the stream's bytes, at most gzBlockSize
	dict []byte // the previous block's tail; empty for the first block or after a short one
	last bool   // the stream's last block: ends the deflate stream
	out  bytes.Buffer
	done chan struct{} // a worker compressed in into out (one token per pass)
}

// gzipWriter is an io.WriteCloser compressing into one gzip member on
// workers goroutines in stream order. At most depth blocks (each
// gzBlockSize of input and its compressed form) exist, whatever the
// stream's length; Write blocks while all are in flight. Write, Close and
// Reset are for one goroutine at a time. The first error of the
// underlying writer is returned by every later Write and by Close.
type gzipWriter struct {
	level   int
	workers int
	depth   int
	fws     []*flate.Writer // one per worker, kept across Resets

	w       io.Writer
	started bool // header written, goroutines running
	closed  bool
	cur     *gzBlock
	tail    []byte // the last submitted block's last gzTailSize bytes
	hasTail bool
	crc     uint32
	size    uint32

	made  int
	free  chan *gzBlock // blocks written out, for reuse
	jobs  chan *gzBlock // to the workers, in stream order
	order chan *gzBlock // to the output goroutine, in stream order
	wg    sync.WaitGroup
	err   atomic.Pointer[error]
	// compressed, when set (tests), is called by a worker after each block.
	compressed func()
}

// newGzipWriter returns a gzipWriter at level (a flate level) writing to
// w with workers compressing goroutines and depth blocks in flight
// (depth > workers leaves the output goroutine some slack).
func newGzipWriter(w io.Writer, level, workers, depth int) (*gzipWriter, error) {
	if _, err := flate.NewWriter(io.Discard, level); err != nil {
		return nil, err
	}
	workers = max(workers, 1)
	depth = max(depth, workers+1)
	z := &gzipWriter{level: level, workers: workers, depth: depth,
		fws: make([]*flate.Writer, workers), free: make(chan *gzBlock, depth)}
	z.Reset(w)
	return z, nil
}

// Reset discards z's stream (stopping its goroutines if it was not
// closed) and makes z write a new one to w, keeping its buffers.
func (z *gzipWriter) Reset(w io.Writer) {
	if z.started && !z.closed {
		z.stop()
	}
	z.w = w
	z.started, z.closed = false, false
	if z.cur != nil {
		z.recycle(z.cur)
		z.cur = nil
	}
	z.hasTail, z.crc, z.size = false, 0, 0
	z.err.Store(nil)
}

// start writes the gzip header (pgzip's: no name, a zero time.Time's
// modification time, XFL 4 at BestSpeed, OS unknown) and starts the
// workers and the output goroutine.
func (z *gzipWriter) start() error {
	z.started = true
	var h [10]byte
	h[0], h[1], h[2] = 0x1f, 0x8b, 8
	binary.LittleEndian.PutUint32(h[4:8], uint32(time.Time{}.Unix()))
	switch z.level {
	case flate.BestSpeed:
		h[8] = 4
	case flate.BestCompression:
		h[8] = 2
	}
	h[9] = 255
	if _, err := z.w.Write(h[:]); err != nil {
		z.fail(err)
	}
	z.jobs = make(chan *gzBlock, z.depth)
	z.order = make(chan *gzBlock, z.depth)
	for i := range z.workers {
		if z.fws[i] == nil {
			z.fws[i], _ = flate.NewWriter(io.Discard, z.level) // level checked by newGzipWriter
		}
		z.wg.Add(1)
		go z.work(z.fws[i])
	}
	z.wg.Add(1)
	go z.output(z.w)
	return z.failure()
}

// work compresses the blocks of jobs in the order they come.
func (z *gzipWriter) work(fw *flate.Writer) {
	defer z.wg.Done()
	for b := range z.jobs {
		b.out.Reset()
		fw.ResetDict(&b.out, b.dict)
		// Writes to a bytes.Buffer do not fail.
		_, _ = fw.Write(b.in)
		_ = fw.Flush()
		if b.last {
			_ = fw.Close()
		}
		if z.compressed != nil {
			z.compressed()
		}
		b.done <- struct{}{}
	}
}

// output writes the compressed blocks to w in stream order, each once
// its worker is done with it, and hands them back; after w's first error
// it only hands them back.
func (z *gzipWriter) output(w io.Writer) {
	defer z.wg.Done()
	for b := range z.order {
		<-b.done
		if z.failure() == nil {
			if _, err := w.Write(b.out.Bytes()); err != nil {
				z.fail(err)
			}
		}
		z.recycle(b)
	}
}

func (z *gzipWriter) recycle(b *gzBlock) { z.free <- b }

func (z *gzipWriter) fail(err error) { z.err.CompareAndSwap(nil, &err) }

func (z *gzipWriter) failure() error {
	if p := z.err.Load(); p != nil {
		return *p
	}
	return nil
}

// next is an empty block: a new one while fewer than depth exist, else
// the first one the output goroutine hands back.
func (z *gzipWriter) next() *gzBlock {
	if z.made < z.depth {
		z.made++
		b := &gzBlock{in: make([]byte, 0, gzBlockSize), done: make(chan struct{}, 1)}
		// Room for a stored (incompressible) block: the buffer never
		// grows by doubling.
		b.out.Grow(gzBlockSize + gzBlockSize>>4)
		return b
	}
	b := <-z.free
	b.in = b.in[:0]
	return b
}

// submit hands b, the stream's next block, to the workers with the
// previous block's tail as its dictionary.
func (z *gzipWriter) submit(b *gzBlock, last bool) {
	b.last = last
	// The block's own buffer, reused: a fresh 16 KiB per block was the
	// door's only allocation per MiB (64 MiB of garbage per 4 GiB, which
	// filled the GC's headroom: docs/performance.md, round 5).
	b.dict = b.dict[:0]
	if z.hasTail {
		b.dict = append(b.dict, z.tail...)
	}
	if z.hasTail = len(b.in) > gzTailSize; z.hasTail {
		z.tail = append(z.tail[:0], b.in[len(b.in)-gzTailSize:]...)
	}
	z.order <- b
	z.jobs <- b
}

// Write compresses p (copied: the caller may reuse it at once). It
// returns the underlying writer's first error, if any, so far.
func (z *gzipWriter) Write(p []byte) (int, error) {
	if z.closed {
		return 0, errGzipClosed
	}
	if !z.started {
		if err := z.start(); err != nil {
			return 0, err
		}
	}
	written := 0
	for len(p) > 0 {
		if err := z.failure(); err != nil {
			return written, err
		}
		if z.cur == nil {
			z.cur = z.next()
		}
		n := min(len(p), gzBlockSize-len(z.cur.in))
		z.crc = crc32.Update(z.crc, crc32.IEEETable, p[:n])
		z.cur.in = append(z.cur.in, p[:n]...)
		z.size += uint32(n)
		written += n
		p = p[n:]
		if len(z.cur.in) == gzBlockSize {
			z.submit(z.cur, false)
			z.cur = nil
		}
	}
	return written, z.failure()
}

// Close compresses what is left as the last block, waits until every
// block is written, and writes the gzip trailer. It does not close the
// underlying writer.
func (z *gzipWriter) Close() error {
	if z.closed {
		return z.failure()
	}
	if !z.started {
		if err := z.start(); err != nil {
			z.closed = true
			z.stop()
			return err
		}
	}
	z.closed = true
	if z.cur == nil {
		z.cur = z.next()
	}
	z.submit(z.cur, true)
	z.cur = nil
	z.stop()
	if err := z.failure(); err != nil {
		return err
	}
	var t [8]byte
	binary.LittleEndian.PutUint32(t[:4], z.crc)
	binary.LittleEndian.PutUint32(t[4:], z.size)
	if _, err := z.w.Write(t[:]); err != nil {
		z.fail(err)
		return err
	}
	return nil
}

// stop ends the workers and the output goroutine once the blocks
// submitted are written (or dropped after an error).
func (z *gzipWriter) stop() {
	close(z.jobs)
	close(z.order)
	z.wg.Wait()
}
