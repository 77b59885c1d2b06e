package shim

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"

	"github.com/imagegate/imagegate/ingest"
)

// A stored file's end — the compressor's last blocks, the layer sink's
// Finish (which keeps the layer index), the registry's Stat and the
// commit with its fsyncs — reads no byte of the archive: run in line, it
// left the cores idle between layers while the request body waited
// (docs/performance.md, "Overlapping each layer's end with the next").
// So the archive's walk hands each file's end to a goroutine of its own
// and reads on: the next file is read, hashed and compressed while the
// previous one is finished and committed. At most one end runs at a
// time — the walk waits for it at the end of the next file's copy — so
// the memory is one more encoder's blocks, whatever the layer count.

// ending is a stored file's end running on its own goroutine.
type ending struct {
	done chan struct{}
	err  error
	// release gives back what the end held (its encoder); it runs on
	// the goroutine that waits.
	release func()
}

// finishLater runs end on a goroutine of its own; w.wait collects it.
// There must be no end pending (wait first).
func (w *blobWriter) finishLater(end func() error, release func()) {
	e := &ending{done: make(chan struct{}), release: release}
	w.ending = e
	go func() {
		defer close(e.done)
		e.err = end()
	}()
}

// wait waits for the pending end, if any, and returns its error; w's
// created list and the ended file's stored record are complete after it.
func (w *blobWriter) wait() error {
	e := w.ending
	if e == nil {
		return nil
	}
	w.ending = nil
	<-e.done
	if e.release != nil {
		e.release()
	}
	return e.err
}

// creating is a blob upload being created on a goroutine of its own:
// distribution writes the upload's start time with its fsyncs, which
// took the reading goroutine's time before each file's first byte; now
// the copy starts at once and its first Write waits for the upload (the
// fanout's and the compressor's blocks in flight are the slack).
type creating struct {
	done chan struct{}
	up   blobUpload
	err  error
}

// create starts creating an upload in w's blob store: one the copy's
// hash commits (onehash.go) where w.oneHash is set, else distribution's.
func (w *blobWriter) create(ctx context.Context) *creating {
	c := &creating{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if w.oneHash != nil {
			var u *ingest.Hashed
			if u, c.err = w.oneHash.CreateHashed(ctx, w.blobs, w.repo); c.err == nil {
				c.up = u
			}
		} else {
			var bw distribution.BlobWriter
			if bw, c.err = w.blobs.Create(ctx); c.err == nil {
				c.up = distributionUpload{bw}
			}
		}
		if c.err != nil {
			c.err = fmt.Errorf("shim: creating a blob upload: %w", c.err)
		}
	}()
	return c
}

// upload waits for the upload: its writer, or why it could not be created.
func (c *creating) upload() (blobUpload, error) {
	<-c.done
	return c.up, c.err
}

// Write writes p to the upload once it is created.
func (c *creating) Write(p []byte) (int, error) {
	up, err := c.upload()
	if err != nil {
		return 0, err
	}
	return up.Write(p)
}
