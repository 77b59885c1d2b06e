package fs

import (
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Align is the alignment of direct writes: a WriteDirect caller whose
// memory and file offset are both multiples of it (modulo it alike) has
// its whole Align-byte blocks written without a copy.
const Align = align

// DirectWriter is the optional interface of this driver's FileWriters for
// a caller that owns memory aligned for direct I/O (ingest's copy reads
// request bodies into Align-aligned 1 MiB chunks). Everything else about
// the writer is storagedriver.FileWriter's contract, unchanged: Write,
// Size, Commit, Close and Cancel behave the same whether or not
// WriteDirect was used, and may be mixed with it.
type DirectWriter interface {
	storagedriver.FileWriter
	// WriteDirect appends p, as Write does, without copying what it can
	// write in place: the whole Align-byte blocks of p that start at an
	// aligned address and go to an aligned file offset are written with
	// O_DIRECT straight from p's memory; the bytes before the first such
	// block (a resumed upload's unaligned head) and after the last (the
	// tail) go through the page cache from p, as does all of p when its
	// address and file offset differ modulo Align or the filesystem
	// refuses O_DIRECT. Unlike Write it is synchronous: it returns once
	// every byte of p has been written to the file (not yet fsynced:
	// Commit and Close do that) and p is no longer referenced, so the
	// caller may reuse p at once. It returns len(p), or 0 and the writer's
	// first error (this write's or an earlier buffered one's, which Write
	// would report only at Commit or Close); Size grows only on success.
	WriteDirect(p []byte) (int, error)
}

// WriteDirect implements DirectWriter: p goes to the flusher as a lent
// buffer, after whatever Write had buffered (so the file order holds),
// and WriteDirect waits for it.
func (w *fileWriter) WriteDirect(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.cur != nil && len(w.cur.b) > 0 {
		w.send()
	}
	w.lent = buffer{b: p, off: w.size, lent: true}
	w.queue <- &w.lent
	<-w.returned
	w.lent = buffer{} // no reference to p survives the call
	if err := w.failed(); err != nil {
		return 0, err
	}
	w.size += int64(len(p))
	return len(p), nil
}

var _ DirectWriter = (*fileWriter)(nil)
