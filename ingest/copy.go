package ingest

import (
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// Buffering of one copy: chunkSize bytes per read, at most depth chunks in
// flight (read but not yet both hashed and written), so one copy holds at
// most depth × chunkSize bytes of the body (4 MiB).
const (
	chunkSize = 1 << 20
	depth     = 4
)

// chunks recycles the copies' buffers across requests.
var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// chunk is one buffer read from the body, released when both the hasher
// and the writer are done with it.
type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
	free chan<- *chunk
}

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
	workers.Go(func() {
		for c := range toHash {
			_, _ = h.Write((*c.buf)[:c.n]) // hash.Hash.Write never fails
			res.hashed += int64(c.n)
			c.release()
		}
	})
	workers.Go(func() {
		for c := range toWrite {
			if res.writeErr == nil {
				if _, err := w.Write((*c.buf)[:c.n]); err != nil {
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
		n, err := fill(r, *c.buf)
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
