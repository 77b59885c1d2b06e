package shim

import (
	"errors"
	"io"
	"sync"
)

// errParallelClosed is returned by a write after Close.
var errParallelClosed = errors.New("shim: write to a closed parallel writer")

// parallelWriter writes each p to all its writers at once — the first on
// the caller's goroutine, each other one on a goroutine of its own — and
// returns only when every writer is done with p. Unlike a fanout it keeps
// no copy: the caller may reuse p as soon as Write returns (the gzip
// writer and zstd reuse their output blocks), and its own queue of blocks is the
// only buffer. After a writer's first error, every later Write returns
// it without writing. Write is for one goroutine at a time (a
// compressor's output); Close stops the lanes' goroutines.
type parallelWriter struct {
	first io.Writer
	lanes []*lane
	err   error
	// closed is set by Close; wg waits for the lanes' goroutines.
	closed bool
	wg     sync.WaitGroup
}

// lane is one writer's goroutine: p in, its error out.
type lane struct {
	w    io.Writer
	in   chan []byte
	done chan error
}

// newParallelWriter starts a goroutine for every writer of rest; first
// is written on the caller's.
func newParallelWriter(first io.Writer, rest ...io.Writer) *parallelWriter {
	pw := &parallelWriter{first: first}
	for _, w := range rest {
		l := &lane{w: w, in: make(chan []byte), done: make(chan error, 1)}
		pw.lanes = append(pw.lanes, l)
		pw.wg.Add(1)
		go func() {
			defer pw.wg.Done()
			for p := range l.in {
				_, err := l.w.Write(p)
				l.done <- err
			}
		}()
	}
	return pw
}

// Write writes p to every writer in parallel and returns when all are
// done: len(p) and nil, or the first error.
func (pw *parallelWriter) Write(p []byte) (int, error) {
	if pw.closed {
		return 0, errParallelClosed
	}
	if pw.err != nil {
		return 0, pw.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for _, l := range pw.lanes {
		l.in <- p
	}
	_, err := pw.first.Write(p)
	for _, l := range pw.lanes {
		if lerr := <-l.done; err == nil {
			err = lerr
		}
	}
	if err != nil {
		pw.err = err
		return 0, err
	}
	return len(p), nil
}

// Close stops the lanes' goroutines and returns the first write error.
// It does not close the writers.
func (pw *parallelWriter) Close() error {
	if !pw.closed {
		pw.closed = true
		for _, l := range pw.lanes {
			close(l.in)
		}
		pw.wg.Wait()
	}
	return pw.err
}
