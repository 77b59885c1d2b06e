package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

const (
	// bufSize is the size of one write to the file.
	bufSize = 1 << 20
	// inFlight is how many full buffers may wait for or be in the
	// flusher's write: the writer's memory is (inFlight+1)·bufSize.
	inFlight = 2
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

var (
	errClosed    = errors.New("fs: writer already closed")
	errCommitted = errors.New("fs: writer already committed")
	errCancelled = errors.New("fs: writer already cancelled")
)

// fileWriter is a storagedriver.FileWriter whose writes are buffered and
// written to the file by a flusher goroutine, overlapping the caller's
// work (reading the request, hashing) with the copy into the page cache.
// It is used by one goroutine at a time, like distribution's.
type fileWriter struct {
	f    *os.File
	size int64   // bytes accepted
	cur  *[]byte // the buffer being filled

	queue chan *[]byte // full buffers to the flusher
	free  chan *[]byte // written buffers back
	owned int          // buffers taken from the pool, cur included
	done  chan struct{}

	mu  sync.Mutex
	err error // the flusher's first error, sticky

	closed, committed, cancelled bool
}

func newFileWriter(f *os.File, size int64) *fileWriter {
	w := &fileWriter{
		f: f, size: size, cur: bufPool.Get().(*[]byte), owned: 1,
		queue: make(chan *[]byte, inFlight), free: make(chan *[]byte, inFlight+1),
		done: make(chan struct{}),
	}
	go w.flusher(size)
	return w
}

// flusher writes the queued buffers at off and starts their writeback.
func (w *fileWriter) flusher(off int64) {
	defer close(w.done)
	for b := range w.queue {
		if w.failed() == nil {
			n, err := w.f.Write(*b)
			if err == nil {
				// Start writeback now (asynchronously): the fsync owed at
				// Commit or Close then waits for little. Only advisory.
				_ = unix.SyncFileRange(int(w.f.Fd()), off, int64(n), unix.SYNC_FILE_RANGE_WRITE)
			} else {
				w.fail(fmt.Errorf("fs: writing %s: %w", w.f.Name(), err))
			}
			off += int64(n)
		}
		*b = (*b)[:0]
		w.free <- b
	}
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
		n := copy((*b)[len(*b):cap(*b)], p)
		*b = (*b)[:len(*b)+n]
		p, written = p[n:], written+n
		w.size += int64(n)
		if len(*b) == cap(*b) {
			w.send()
		}
	}
	return written, nil
}

// send queues the current buffer and takes an empty one: a new one while
// fewer than inFlight+1 exist, else the next the flusher returns.
func (w *fileWriter) send() {
	w.queue <- w.cur
	if w.owned <= inFlight {
		w.cur = bufPool.Get().(*[]byte)
		w.owned++
		return
	}
	w.cur = <-w.free
}

// flush queues what is buffered and waits until the flusher has written
// everything, returning its error if any.
func (w *fileWriter) flush() error {
	if len(*w.cur) > 0 {
		w.send()
	}
	// Every buffer but cur comes back once written.
	var back []*[]byte
	for range w.owned - 1 {
		back = append(back, <-w.free)
	}
	for _, b := range back {
		w.free <- b
	}
	return w.failed()
}

// stop ends the flusher and returns the buffers to the pool.
func (w *fileWriter) stop() {
	close(w.queue)
	<-w.done
	bufPool.Put(w.cur)
	for range w.owned - 1 {
		bufPool.Put(<-w.free)
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
	if err := w.f.Sync(); err != nil {
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
			if err = w.f.Sync(); err != nil {
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
