package shim

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Bounds of a fanout: chunks of fanChunk bytes, at most fanChunks of them
// in flight (read or written but not yet taken by every writer), so one
// fanout holds at most fanChunks×fanChunk bytes (4 MiB) whatever the
// stream's size.
const (
	fanChunk  = 1 << 20
	fanChunks = 4
)

// chunkPool recycles the fanouts' chunks across blobs and uploads.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, fanChunk); return &b }}

// errFanoutClosed is returned by a write after Close.
var errFanoutClosed = errors.New("shim: write to a closed fanout")

// chunk is one piece of the stream on its way to every writer; the last
// writer done with it returns it to the fanout.
type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
}

// fanout hands a stream to several writers, each on its own goroutine,
// in order: reading (or producing) the next chunk, hashing, compressing,
// storing and indexing the previous ones overlap, where io.MultiWriter
// would run them one after the other on the reader's goroutine. The
// first writer error stops the stream: later writes and reads return it.
// Close waits for every writer and must be called once.
type fanout struct {
	queues []chan *chunk
	free   chan *chunk
	made   int
	cur    *chunk // Write's partly filled chunk
	wg     sync.WaitGroup
	err    atomic.Pointer[error]
	closed bool
}

// newFanout starts one goroutine per writer.
func newFanout(ws ...io.Writer) *fanout {
	f := &fanout{free: make(chan *chunk, fanChunks)}
	for _, w := range ws {
		q := make(chan *chunk, fanChunks)
		f.queues = append(f.queues, q)
		f.wg.Add(1)
		go f.drain(w, q)
	}
	return f
}

// drain writes every chunk of q to w until q is closed; after w's first
// error it only releases the chunks.
func (f *fanout) drain(w io.Writer, q chan *chunk) {
	defer f.wg.Done()
	failed := false
	for c := range q {
		if !failed {
			if _, err := w.Write((*c.buf)[:c.n]); err != nil {
				failed = true
				f.err.CompareAndSwap(nil, &err)
			}
		}
		f.release(c)
	}
}

// release gives c back once every writer has it.
func (f *fanout) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		f.free <- c
	}
}

// failure is the first writer error, or nil.
func (f *fanout) failure() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// next is an empty chunk: a new one while fewer than fanChunks exist,
// else the first one every writer is done with.
func (f *fanout) next() *chunk {
	if f.made < fanChunks {
		f.made++
		return &chunk{buf: chunkPool.Get().(*[]byte)}
	}
	c := <-f.free
	c.n = 0
	return c
}

// send hands c to every writer.
func (f *fanout) send(c *chunk) {
	c.refs.Store(int32(len(f.queues)))
	for _, q := range f.queues {
		q <- c
	}
}

// ReadFrom reads r to its end straight into chunks (no copy of its own):
// io.Copy and bufio.Reader.WriteTo use it. It returns the bytes read and
// the first read or writer error.
func (f *fanout) ReadFrom(r io.Reader) (int64, error) {
	if f.closed {
		return 0, errFanoutClosed
	}
	if err := f.flush(); err != nil {
		return 0, err
	}
	var total int64
	for {
		if err := f.failure(); err != nil {
			return total, err
		}
		c := f.next()
		n, err := io.ReadFull(r, (*c.buf)[:fanChunk])
		total += int64(n)
		if n > 0 {
			c.n = n
			f.send(c)
		} else {
			f.free <- c
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return total, f.failure()
		case err != nil:
			return total, err
		}
	}
}

// Write copies p into chunks, handing each on as it fills (the rest at
// Close).
func (f *fanout) Write(p []byte) (int, error) {
	if f.closed {
		return 0, errFanoutClosed
	}
	written := 0
	for len(p) > 0 {
		if err := f.failure(); err != nil {
			return written, err
		}
		if f.cur == nil {
			f.cur = f.next()
		}
		n := copy((*f.cur.buf)[f.cur.n:fanChunk], p)
		f.cur.n += n
		written += n
		p = p[n:]
		if f.cur.n == fanChunk {
			f.send(f.cur)
			f.cur = nil
		}
	}
	return written, f.failure()
}

// flush hands on Write's partly filled chunk.
func (f *fanout) flush() error {
	if f.cur != nil {
		c := f.cur
		f.cur = nil
		if c.n > 0 {
			f.send(c)
		} else {
			f.free <- c
		}
	}
	return f.failure()
}

// Close hands on what Write left, waits until every writer has written
// everything (or failed), recycles the chunks, and returns the first
// writer error.
func (f *fanout) Close() error {
	if f.closed {
		return f.failure()
	}
	_ = f.flush()
	f.closed = true
	for _, q := range f.queues {
		close(q)
	}
	f.wg.Wait()
	for range f.made {
		c := <-f.free
		chunkPool.Put(c.buf)
	}
	return f.failure()
}
