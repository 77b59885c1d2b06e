package ingest

import (
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// Buffering of one copy: chunkSize bytes per read, at most depth chunks in
// flight (read but not yet both hashed and written: one being read, one
// being hashed and written, one spare), so one copy holds at most depth ×
// chunkSize bytes of the body (12 MiB; with the alignment slack, depth ×
// (chunkSize + chunkAlign)). A directWriter takes the chunks as they are
// and holds no buffer of its own for them; 4 MiB is the size of its
// O_DIRECT writes (1 MiB writes cost twice the kernel CPU per byte on the
// development VM: docs/performance.md, round 3). A copy with a tap holds
// tapLag chunks more (24 MiB in all): how far the tap may fall behind the
// hasher and the writer before it is dropped. A tap part-way through a
// chunk counts as a whole chunk behind, so 3 chunks are 8–12 MiB of lag
// (4 MiB of lag dropped the tap for a quarter of the bench's layers at a
// load of 15 on 2 cores, 8 MiB for none: docs/performance.md, round 3b).
const (
	chunkSize = 4 << 20
	depth     = 3
	tapLag    = 3
	// chunkAlign is the address alignment of the chunks and the file
	// offset alignment the copy arranges for a directWriter:
	// storagedriver/fs's Align (this package imports no imagegate driver;
	// a mismatch costs the copy it saves, never correctness, and
	// TestDirectWriterOfTheFilesystemDriver catches it).
	chunkAlign = 4096
)

// chunks recycles the copies' buffers across requests: chunkSize bytes
// starting at a chunkAlign-aligned address
// (newChunkMem: huge-page memory outside the heap where the kernel gives
// it).
var chunks = sync.Pool{New: func() any { return newChunkMem() }}

// directWriter is a writer that can write a caller's memory in place
// (storagedriver/fs.DirectWriter): WriteDirect appends p like Write, writes
// p's whole chunkAlign blocks whose address and file offset are both
// aligned straight from p (the rest through a copy), and returns once p
// is written and no longer referenced.
type directWriter interface {
	io.Writer
	Size() int64
	WriteDirect(p []byte) (int, error)
}

// chunk is one buffer read from the body — buf[off:off+n] — released when
// both the hasher and the writer are done with it.
type chunk struct {
	buf  *[]byte
	off  int
	n    int
	refs atomic.Int32
	free chan<- *chunk
}

func (c *chunk) bytes() []byte { return (*c.buf)[c.off : c.off+c.n] }

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.free <- c
	}
}

// copyResult is what a parallel copy did: hashed and written are equal
// unless writeErr is set (the hasher may have run ahead of a failed write).
type copyResult struct {
	read, hashed, written int64
	readErr, writeErr     error
	// tapped is true when the tap was given every byte read and took them
	// all (false without a tap); tapBehind when it was dropped for
	// falling behind.
	tapped, tapBehind bool
}

// progress counts the chunks each consumer of a copy is done with; with
// a tap, the hasher and the writer signal moved after each chunk, for a
// reader waiting for a free chunk to look at the tap again.
type progress struct {
	hashed, written, tapped atomic.Int64
	moved                   chan struct{}
}

// signal tells a waiting reader that the hasher or the writer moved on.
func (p *progress) signal() {
	if p.moved == nil {
		return
	}
	select {
	case p.moved <- struct{}{}:
	default:
	}
}

// tapBehind reports whether the tap is tapLag chunks behind both the
// hasher and the writer: then a reader waiting for a free chunk waits
// for the tap.
func (p *progress) tapBehind() bool {
	return min(p.hashed.Load(), p.written.Load())-p.tapped.Load() >= tapLag
}

// copyParallel reads r until EOF or an error into chunks and feeds each to
// h and w on two goroutines of their own, so reading the body, hashing it
// and writing it overlap instead of following each other 32 KiB at a time.
// When w is a directWriter the chunks are written with WriteDirect, no
// copy, and each read lands in its chunk at the offset (modulo
// chunkAlign) of the file position it goes to, so that after a resumed
// upload's unaligned head every whole block is aligned in memory and in
// the file alike.
// It returns once both goroutines are done: nothing it started outlives it.
// The first write error stops the reading; a read error stops the copy
// after every chunk read before it has been hashed and written, so on a
// read error hashed == written == read. readErr is nil at EOF.
//
// tap, when not nil, is fed the same chunks on a third goroutine, and
// never slows the copy by more than one chunk's work: when the reader
// needs a free chunk while the tap is tapLag chunks behind both the
// hasher and the writer (it holds the chunks the reader waits for), or
// when a tap Write fails, the tap is dropped — it gets no more chunks,
// those queued for it are released unread, and tapped is false. A tap
// that implements droppedTap is told so once, as soon as it is done
// with (its last Write returned), while the body may still be copied. At
// the body's end the copy waits for the tap to take what was queued for
// it (at most depth + tapLag chunks).
func copyParallel(r io.Reader, h hash.Hash, w io.Writer, tap io.Writer) copyResult {
	n := depth
	if tap != nil {
		n += tapLag
	}
	free := make(chan *chunk, n)
	for range n {
		free <- &chunk{buf: chunks.Get().(*[]byte), free: free}
	}
	toHash := make(chan *chunk, n)
	toWrite := make(chan *chunk, n)
	var (
		res     copyResult
		stop    atomic.Bool // set by the writer on its first error
		done    progress
		tapStop atomic.Bool // set by the tap on its first error, or by the reader
		workers sync.WaitGroup
	)
	write := w.Write
	var start int64 // w's size, when it is a directWriter
	dw, direct := w.(directWriter)
	if direct {
		write, start = dw.WriteDirect, dw.Size()
	}
	if tap != nil {
		done.moved = make(chan struct{}, 1)
	}
	workers.Go(func() {
		for c := range toHash {
			_, _ = h.Write(c.bytes()) // hash.Hash.Write never fails
			res.hashed += int64(c.n)
			done.hashed.Add(1)
			c.release()
			done.signal()
		}
	})
	workers.Go(func() {
		for c := range toWrite {
			if res.writeErr == nil {
				if _, err := write(c.bytes()); err != nil {
					res.writeErr = err
					stop.Store(true)
				} else {
					res.written += int64(c.n)
				}
			}
			done.written.Add(1)
			c.release()
			done.signal()
		}
	})
	var toTap chan *chunk
	if tap != nil {
		toTap = make(chan *chunk, n)
		feed := toTap // the reader sets toTap to nil when it drops the tap
		workers.Go(func() { feedTap(tap, feed, &tapStop, &done) })
	}
	for !stop.Load() {
		c, dropped := nextFree(free, toTap, &tapStop, &done)
		if dropped {
			// Nothing more goes to the tap: its goroutine ends once
			// its Write in progress returns, and lets the tap go.
			res.tapBehind = true
			close(toTap)
			toTap = nil
		}
		c.off = 0
		if direct {
			c.off = int((start + res.read) % chunkAlign)
		}
		n, err := fill(r, (*c.buf)[c.off:])
		if n > 0 {
			c.n = n
			tapping := toTap != nil && !tapStop.Load()
			if tapping {
				c.refs.Store(3)
			} else {
				c.refs.Store(2)
			}
			res.read += int64(n)
			toHash <- c
			toWrite <- c
			if tapping {
				toTap <- c
			}
		} else {
			free <- c
		}
		if err != nil {
			if err != io.EOF { //nolint:errorlint // io.Reader's contract: EOF itself, never wrapped
				res.readErr = err
			}
			break
		}
	}
	close(toHash)
	close(toWrite)
	if toTap != nil {
		close(toTap)
	}
	workers.Wait()
	for range cap(free) {
		chunks.Put((<-free).buf)
	}
	res.tapped = tap != nil && !tapStop.Load() && res.readErr == nil && res.writeErr == nil
	return res
}

// nextFree returns the next free chunk. When none is free and a tap is
// still fed (toTap not nil, tapStop unset), it looks at the tap, and again
// each time the hasher or the writer moves on while it waits, and drops
// it once it is tapLag chunks behind both: it releases the chunks queued
// for it (and says so: true).
func nextFree(free <-chan *chunk, toTap chan *chunk, tapStop *atomic.Bool, done *progress) (*chunk, bool) {
	for {
		select {
		case c := <-free:
			return c, false
		default:
		}
		if toTap == nil || tapStop.Load() {
			return <-free, false
		}
		if done.tapBehind() {
			tapStop.Store(true)
			releaseQueued(toTap)
			return <-free, true
		}
		select {
		case c := <-free:
			return c, false
		case <-done.moved:
		}
	}
}

// droppedTap is a tap that wants to know when the copy drops it.
type droppedTap interface {
	// dropped is called once, on the tap's goroutine, after its last
	// Write returned; Write is not called again.
	dropped()
}

// feedTap writes the chunks of toTap to tap until tapStop is set (by its
// first failed Write, or by the reader), then only releases them; once
// tapStop is set and no Write is in progress, a droppedTap is told.
func feedTap(tap io.Writer, toTap <-chan *chunk, tapStop *atomic.Bool, done *progress) {
	d, _ := tap.(droppedTap)
	for c := range toTap {
		if !tapStop.Load() {
			if _, err := tap.Write(c.bytes()); err != nil {
				tapStop.Store(true)
			}
		}
		done.tapped.Add(1)
		c.release()
		if d != nil && tapStop.Load() {
			d.dropped()
			d = nil
		}
	}
	if d != nil && tapStop.Load() {
		d.dropped()
	}
}

// releaseQueued releases the chunks waiting in toTap without feeding them
// (the tap was dropped; its goroutine may be busy with an earlier chunk).
func releaseQueued(toTap <-chan *chunk) {
	for {
		select {
		case c := <-toTap:
			c.release()
		default:
			return
		}
	}
}

// fill reads from r until buf is full or r fails; it returns io.EOF only
// at the end of r, and r's other errors (io.ErrUnexpectedEOF from a body
// shorter than its Content-Length among them) as they are.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
