// Package fs is imagegate's filesystem storage driver: distribution's
// filesystem driver (same on-disk layout, same reads, lists and deletes)
// with a cheaper, equally durable write path:
//
//   - writes are copied into 4 MiB aligned buffers that a second goroutine
//     writes with O_DIRECT, so the request's goroutine reads and hashes
//     while the previous buffer goes to disk, and no write copies into the
//     page cache or leaves dirty pages for the commit's fsync to flush
//     (distribution writes each 32 KiB read through the page cache, in the
//     request's goroutine, and its fsync then writes the whole blob back);
//     the unaligned head and tail of a write session go through the page
//     cache, and so does everything where O_DIRECT is refused (tmpfs);
//   - a caller that owns aligned memory (ingest's copy of request bodies)
//     skips that copy too: the writers' WriteDirect (DirectWriter) writes
//     its aligned blocks with O_DIRECT straight from the caller's memory;
//   - a blob moved into place is read back into the page cache in the
//     background (posix_fadvise WILLNEED), for the reads that follow a push;
//   - Move and PutContent fsync the directories they change (distribution
//     fsyncs none after a Move), so a blob renamed into place at commit is
//     durable before the registry answers 201.
//
// The FileWriter contract is distribution's: Write appends, Size counts
// what was accepted, Commit makes everything durable, Close flushes and
// (when not committed) fsyncs — the upload's resumable hash state, stored
// at every PATCH, vouches for the bytes before it, so they must be on disk
// too — and Cancel removes the file.
package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/base"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"golang.org/x/sys/unix"
)

// maxThreads bounds concurrent blocking calls of the delegated operations,
// as distribution's driver does by default.
const maxThreads = 100

// driver overrides the write path of distribution's filesystem driver.
type driver struct {
	storagedriver.StorageDriver // distribution's: reads, stats, lists, deletes, walks
	root                        string
}

// New returns the driver rooted at root (which it creates as needed).
// Its Name is "filesystem": the layout is distribution's.
func New(root string) storagedriver.StorageDriver {
	inner := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: maxThreads})
	return &Driver{Base: base.Base{StorageDriver: &driver{StorageDriver: inner, root: root}}, root: root}
}

// Driver is the driver New returns: distribution's base (path checks,
// metrics, tracing) around driver, plus OpenFile.
type Driver struct {
	base.Base
	root string
}

// OpenFile opens the file at path (a storage path, as the driver's other
// methods take) for reading, as an *os.File, so that a server can send it
// with sendfile(2). path must be a valid storage path
// (storagedriver.PathRegexp: absolute, no "." or ".." component).
func (d *Driver) OpenFile(path string) (*os.File, error) {
	if !storagedriver.PathRegexp.MatchString(path) || slices.Contains(strings.Split(path, "/"), "..") || slices.Contains(strings.Split(path, "/"), ".") {
		return nil, storagedriver.InvalidPathError{Path: path, DriverName: d.Name()}
	}
	f, err := os.Open(filepath.Join(d.root, path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, storagedriver.PathNotFoundError{Path: path, DriverName: d.Name()}
	}
	return f, err
}

func (d *driver) fullPath(sub string) string { return filepath.Join(d.root, sub) }

// Writer opens path for writing, truncated unless append.
func (d *driver) Writer(_ context.Context, sub string, append bool) (storagedriver.FileWriter, error) {
	full := d.fullPath(sub)
	if _, err := mkdirAll(filepath.Dir(full)); err != nil {
		return nil, err
	}
	flags := os.O_WRONLY | os.O_CREATE
	if !append {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(full, flags, 0o666)
	if err != nil {
		return nil, err
	}
	var size int64
	if append {
		if size, err = f.Seek(0, 2); err != nil {
			f.Close()
			return nil, fmt.Errorf("fs: seeking to the end of %s: %w", sub, err)
		}
	}
	return newFileWriter(f, size), nil
}

// PutContent writes content to a temporary file, fsyncs it and renames it
// over path, then fsyncs the directories: path holds all of content or
// its previous content, durably.
func (d *driver) PutContent(_ context.Context, sub string, content []byte) error {
	full := d.fullPath(sub)
	created, err := mkdirAll(filepath.Dir(full))
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), "."+filepath.Base(full)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(content)
	if err == nil {
		err = syncFile(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), full)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("fs: writing %s: %w", sub, err)
	}
	return syncDirs(filepath.Dir(full), created)
}

// Move renames source to dest (replacing it), then fsyncs dest's
// directory and every directory created for it.
func (d *driver) Move(_ context.Context, source, dest string) error {
	src, dst := d.fullPath(source), d.fullPath(dest)
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return storagedriver.PathNotFoundError{Path: source}
	}
	created, err := mkdirAll(filepath.Dir(dst))
	if err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	if err := syncDirs(filepath.Dir(dst), created); err != nil {
		return err
	}
	readAhead(dst)
	return nil
}

// readAhead asks the kernel, from another goroutine (the call allocates
// the pages before it returns), to read path into the page cache: the
// writer's direct writes left it out, and a blob moved into place at
// commit is read again soon (the gate's diff_id and layer checks at the
// manifest, the first pulls). Only advisory.
func readAhead(path string) {
	go func() {
		f, err := os.Open(path)
		if err != nil {
			return
		}
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_WILLNEED)
		f.Close()
	}()
}
