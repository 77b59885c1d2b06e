package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// bufSize is the size of one write to the file: large enough for the
	// disk to stream, a multiple of align.
	bufSize = 4 << 20
	// align is the offset, length and address alignment of direct writes
	// (a multiple of every logical block size in use).
	align = 4096
)

// buffer is bytes for the flusher to write at a file offset: a pooled
// bufSize-capacity slice aligned to align, or (lent) the memory of a
// WriteDirect caller, which gets it back as soon as it is written.
type buffer struct {
	mem  []byte // all bufSize bytes; nil when lent
	b    []byte // the bytes to write: mem[:n], capacity limited by take
	off  int64
	lent bool
}

var bufPool = sync.Pool{New: func() any {
	raw := make([]byte, bufSize+align)
	skip := int(-uintptr(unsafe.Pointer(&raw[0])) & (align - 1))
	return &buffer{mem: raw[skip : skip+bufSize : skip+bufSize]}
}}

var (
	errClosed    = errors.New("fs: writer already closed")
	errCommitted = errors.New("fs: writer already committed")
	errCancelled = errors.New("fs: writer already cancelled")
)

// syncFile is fsync(2); tests observe it.
var syncFile = (*os.File).Sync

// writeAt is pwrite(2), on the buffered or the O_DIRECT descriptor; tests
// observe which memory each write comes from.
var writeAt = (*os.File).WriteAt

// fileWriter is a storagedriver.FileWriter that copies writes into 4 MiB
// aligned buffers and has a flusher goroutine write each full one with
// O_DIRECT (DMA from the buffer: no copy into the page cache, no dirty
// pages for a later fsync to wait for) while the caller fills the next.
// Bytes before the first aligned offset and after the last are written
// through the page cache. Where the filesystem refuses O_DIRECT (tmpfs…),
// everything goes through the page cache. WriteDirect (direct.go) skips
// the copy for callers with aligned memory. It is used by one goroutine at
// a time, like distribution's.
type fileWriter struct {
	f      *os.File // buffered: unaligned head and tail, fsync
	direct *os.File // O_DIRECT, nil when unavailable; the flusher's
	size   int64    // bytes accepted
	cur    *buffer  // the buffer being filled, nil until a Write needs one

	queue chan *buffer // buffers to the flusher, in file order
	free  chan *buffer // written pooled buffers back
	owned int          // buffers taken from the pool (at most 2), cur included
	done  chan struct{}

	// lent is the buffer WriteDirect hands the flusher (one at a time),
	// returned signalled once it is written.
	lent     buffer
	returned chan struct{}

	mu  sync.Mutex
	err error // the flusher's first error, sticky

	closed, committed, cancelled bool
}

func newFileWriter(f *os.File, size int64) *fileWriter {
	w := &fileWriter{
		f: f, size: size,
		queue: make(chan *buffer, 1), free: make(chan *buffer, 2),
		done: make(chan struct{}), returned: make(chan struct{}, 1),
	}
	if d, err := os.OpenFile(f.Name(), os.O_WRONLY|unix.O_DIRECT, 0); err == nil {
		w.direct = d
	}
	go w.flusher()
	return w
}

// take returns an empty buffer for the bytes from off — a pooled one
// while the writer holds fewer than two (one filling, one being written),
// else the next the flusher hands back. When off is not aligned, it holds
// only the bytes up to the next aligned offset.
func (w *fileWriter) take(off int64) *buffer {
	var b *buffer
	if w.owned < 2 {
		w.owned++
		b = bufPool.Get().(*buffer)
	} else {
		b = <-w.free
	}
	b.off = off
	limit := bufSize
	if rem := int(off % align); rem != 0 {
		limit = align - rem
	}
	b.b = b.mem[:0:limit]
	return b
}

// flusher writes the queued buffers at their offsets, gives pooled ones
// back through free and signals returned for a lent one.
func (w *fileWriter) flusher() {
	defer close(w.done)
	for b := range w.queue {
		if w.failed() == nil {
			if err := w.writeBuffer(b); err != nil {
				w.fail(fmt.Errorf("fs: writing %s: %w", w.f.Name(), err))
			}
		}
		if b.lent {
			w.returned <- struct{}{}
		} else {
			w.free <- b
		}
	}
}

// writeBuffer writes b.b at b.off: the whole align blocks that start at an
// aligned file offset and an aligned address straight from b's memory with
// O_DIRECT, the bytes before them (up to the first aligned offset) and
// after them through the page cache. When the file offset and the address
// are not aligned alike, all of it goes through the page cache.
func (w *fileWriter) writeBuffer(b *buffer) error {
	p, off := b.b, b.off
	if w.direct != nil {
		head := int(-off & (align - 1)) // bytes up to the next aligned offset
		if n := (len(p) - head) &^ (align - 1); n > 0 && isAligned(p[head:]) {
			if head > 0 {
				if _, err := writeAt(w.f, p[:head], off); err != nil {
					return err
				}
				p, off = p[head:], off+int64(head)
			}
			if _, err := writeAt(w.direct, p[:n], off); err != nil {
				if !errors.Is(err, unix.EINVAL) {
					return err
				}
				// The filesystem took O_DIRECT at open but refuses the
				// write: the page cache from now on.
				w.direct.Close()
				w.direct = nil
				n = 0
			}
			p, off = p[n:], off+int64(n)
		}
	}
	if len(p) == 0 {
		return nil
	}
	_, err := writeAt(w.f, p, off)
	return err
}

// isAligned reports whether p starts at an address aligned for O_DIRECT.
func isAligned(p []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(p)))&(align-1) == 0
}

func (w *fileWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *fileWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *fileWriter) usable() error {
	switch {
	case w.closed:
		return errClosed
	case w.committed:
		return errCommitted
	case w.cancelled:
		return errCancelled
	}
	return w.failed()
}

// Write accepts p; the bytes reach the file asynchronously (Commit and
// Close wait for them and report any error).
func (w *fileWriter) Write(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		if w.cur == nil {
			w.cur = w.take(w.size)
		}
		b := w.cur
		n := copy(b.b[len(b.b):cap(b.b)], p)
		b.b = b.b[:len(b.b)+n]
		p, written = p[n:], written+n
		w.size += int64(n)
		if len(b.b) == cap(b.b) {
			w.send()
		}
	}
	return written, nil
}

// send queues the current buffer; the next Write takes another.
func (w *fileWriter) send() {
	w.queue <- w.cur
	w.cur = nil
}

// queued is the number of pooled buffers not in cur: queued, being
// written, or back in free.
func (w *fileWriter) queued() int {
	if w.cur != nil {
		return w.owned - 1
	}
	return w.owned
}

// flush queues what is buffered and waits until the flusher has written
// everything, returning its error if any.
func (w *fileWriter) flush() error {
	if w.cur != nil && len(w.cur.b) > 0 {
		w.send()
	}
	// Every buffer but cur comes back once written.
	var back [2]*buffer
	n := w.queued()
	for i := range n {
		back[i] = <-w.free
	}
	for _, b := range back[:n] {
		w.free <- b
	}
	return w.failed()
}

// stop ends the flusher, returns the buffers to the pool and closes the
// direct descriptor.
func (w *fileWriter) stop() {
	close(w.queue)
	<-w.done
	for range w.queued() {
		bufPool.Put(<-w.free)
	}
	if w.cur != nil {
		bufPool.Put(w.cur)
		w.cur = nil
	}
	if w.direct != nil {
		w.direct.Close()
	}
}

// Size is the number of bytes accepted, those before the writer was
// opened included.
func (w *fileWriter) Size() int64 { return w.size }

// Commit writes everything and fsyncs the file: once it returns, the
// content is durable. The writer must still be closed.
func (w *fileWriter) Commit(context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := syncFile(w.f); err != nil {
		return fmt.Errorf("fs: fsync %s: %w", w.f.Name(), err)
	}
	w.committed = true
	return nil
}

// Close writes what is buffered and, unless committed, fsyncs the file,
// so an upload continued by a later request resumes from durable bytes.
func (w *fileWriter) Close() error {
	if w.closed {
		return errClosed
	}
	w.closed = true
	var err error
	if !w.committed && !w.cancelled {
		err = w.flush()
		if err == nil {
			if err = syncFile(w.f); err != nil {
				err = fmt.Errorf("fs: fsync %s: %w", w.f.Name(), err)
			}
		}
	}
	w.stop()
	return errors.Join(err, w.f.Close())
}

// Cancel abandons the content and removes the file.
func (w *fileWriter) Cancel(context.Context) error {
	if w.closed {
		return errClosed
	}
	w.cancelled, w.closed = true, true
	w.stop()
	_ = w.f.Close()
	return os.Remove(w.f.Name())
}
