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

// buffer is a bufSize-capacity slice aligned to align, with the file
// offset its first byte goes to.
type buffer struct {
	mem []byte // all bufSize bytes
	b   []byte // the bytes to write: mem[:n], capacity limited by take
	off int64
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

// fileWriter is a storagedriver.FileWriter that copies writes into 4 MiB
// aligned buffers and has a flusher goroutine write each full one with
// O_DIRECT (DMA from the buffer: no copy into the page cache, no dirty
// pages for a later fsync to wait for) while the caller fills the next.
// Bytes before the first aligned offset and after the last are written
// through the page cache. Where the filesystem refuses O_DIRECT (tmpfs…),
// everything goes through the page cache. It is used by one goroutine at a
// time, like distribution's.
type fileWriter struct {
	f      *os.File // buffered: unaligned head and tail, fsync
	direct *os.File // O_DIRECT, nil when unavailable
	size   int64    // bytes accepted
	cur    *buffer  // the buffer being filled

	queue chan *buffer // full buffers to the flusher
	free  chan *buffer // written buffers back
	owned int          // buffers taken from the pool, cur included
	done  chan struct{}

	mu  sync.Mutex
	err error // the flusher's first error, sticky

	closed, committed, cancelled bool
}

func newFileWriter(f *os.File, size int64) *fileWriter {
	w := &fileWriter{
		f: f, size: size, owned: 1,
		queue: make(chan *buffer, 1), free: make(chan *buffer, 2),
		done: make(chan struct{}),
	}
	if d, err := os.OpenFile(f.Name(), os.O_WRONLY|unix.O_DIRECT, 0); err == nil {
		w.direct = d
	}
	w.cur = w.take(size)
	go w.flusher()
	return w
}

// take readies b (or a pooled buffer) for the bytes from off: when off is
// not aligned, it holds only the bytes up to the next aligned offset.
func (w *fileWriter) take(off int64) *buffer {
	b := bufPool.Get().(*buffer)
	b.off = off
	limit := bufSize
	if rem := int(off % align); rem != 0 {
		limit = align - rem
	}
	b.b = b.mem[:0:limit]
	return b
}

// flusher writes the queued buffers at their offsets: the aligned prefix
// directly, the rest through the page cache.
func (w *fileWriter) flusher() {
	defer close(w.done)
	for b := range w.queue {
		if w.failed() == nil {
			if err := w.writeBuffer(b); err != nil {
				w.fail(fmt.Errorf("fs: writing %s: %w", w.f.Name(), err))
			}
		}
		w.free <- b
	}
}

func (w *fileWriter) writeBuffer(b *buffer) error {
	p, off := b.b, b.off
	if w.direct != nil && off%align == 0 {
		n := len(p) &^ (align - 1)
		if n > 0 {
			if _, err := w.direct.WriteAt(p[:n], off); err != nil {
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
	_, err := w.f.WriteAt(p, off)
	return err
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

// send queues the current buffer and takes an empty one: a new one while
// fewer than two exist (one filling, one being written), else the one the
// flusher returns next.
func (w *fileWriter) send() {
	w.queue <- w.cur
	if w.owned < 2 {
		w.owned++
		w.cur = w.take(w.size)
		return
	}
	b := <-w.free
	bufPool.Put(b)
	w.cur = w.take(w.size)
}

// flush queues what is buffered and waits until the flusher has written
// everything, returning its error if any.
func (w *fileWriter) flush() error {
	if len(w.cur.b) > 0 {
		w.send()
	}
	// Every buffer but cur comes back once written.
	var back []*buffer
	for range w.owned - 1 {
		back = append(back, <-w.free)
	}
	for _, b := range back {
		w.free <- b
	}
	return w.failed()
}

// stop ends the flusher, returns the buffers to the pool and closes the
// direct descriptor.
func (w *fileWriter) stop() {
	close(w.queue)
	<-w.done
	bufPool.Put(w.cur)
	for range w.owned - 1 {
		bufPool.Put(<-w.free)
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
