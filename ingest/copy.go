package ingest

import (
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Buffering of one copy: chunkSize bytes per read, at most depth chunks in
// flight (read but not yet both hashed and written: one being read, one
// being hashed and written, one spare), so one copy holds at most depth ×
// chunkSize bytes of the body (12 MiB; with the alignment slack, depth ×
// (chunkSize + chunkAlign)). A directWriter takes the chunks as they are
// and holds no buffer of its own for them; 4 MiB is the size of its
// O_DIRECT writes (1 MiB writes cost twice the kernel CPU per byte on the
// development VM: docs/performance.md, round 3).
const (
	chunkSize = 4 << 20
	depth     = 3
	// chunkAlign is the address alignment of the chunks and the file
	// offset alignment the copy arranges for a directWriter:
	// storagedriver/fs's Align (this package imports no imagegate driver;
	// a mismatch costs the copy it saves, never correctness, and
	// TestDirectWriterOfTheFilesystemDriver catches it).
	chunkAlign = 4096
)

// chunks recycles the copies' buffers across requests: chunkSize bytes
// starting at a chunkAlign-aligned address.
var chunks = sync.Pool{New: func() any {
	raw := make([]byte, chunkSize+chunkAlign)
	skip := int(-uintptr(unsafe.Pointer(&raw[0])) & (chunkAlign - 1))
	b := raw[skip : skip+chunkSize : skip+chunkSize]
	return &b
}}

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
func copyParallel(r io.Reader, h hash.Hash, w io.Writer) copyResult {
	free := make(chan *chunk, depth)
	for range depth {
		free <- &chunk{buf: chunks.Get().(*[]byte), free: free}
	}
	toHash := make(chan *chunk, depth)
	toWrite := make(chan *chunk, depth)
	var (
		res     copyResult
		stop    atomic.Bool // set by the writer on its first error
		workers sync.WaitGroup
	)
	write := w.Write
	var start int64 // w's size, when it is a directWriter
	dw, direct := w.(directWriter)
	if direct {
		write, start = dw.WriteDirect, dw.Size()
	}
	workers.Go(func() {
		for c := range toHash {
			_, _ = h.Write(c.bytes()) // hash.Hash.Write never fails
			res.hashed += int64(c.n)
			c.release()
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
			c.release()
		}
	})
	for !stop.Load() {
		c := <-free
		c.off = 0
		if direct {
			c.off = int((start + res.read) % chunkAlign)
		}
		n, err := fill(r, (*c.buf)[c.off:])
		if n > 0 {
			c.n = n
			c.refs.Store(2)
			res.read += int64(n)
			toHash <- c
			toWrite <- c
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
	workers.Wait()
	for range depth {
		chunks.Put((<-free).buf)
	}
	return res
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
