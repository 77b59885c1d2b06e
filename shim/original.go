package shim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
)

// originalRoot is where the original tarballs of uploads are kept (with
// Options.Archive), outside distribution's tree, under the driver's root.
const originalRoot = "/imagegate/archive/images/"

// anonymous names the uploader in an archive path when auth is off.
const anonymous = "anonymous"

// original is the copy of an upload's body, as received (compression
// kept), written into the storage driver while the body streams through
// it. It is kept (commit, then keep) when the upload succeeds, and removed
// otherwise (discard): no partial object stays.
type original struct {
	driver storagedriver.StorageDriver
	path   string
	logger *slog.Logger

	mu        sync.Mutex
	fw        storagedriver.FileWriter
	sum       hash.Hash
	size      int64
	committed bool
	ended     bool // kept or discarded: writes fail from then on
}

// startOriginal creates the archive object of an upload by user ("" when
// auth is off) and returns the body to read instead of body: every byte
// read through it is written to the archive, in order. The extension
// (.tar, .tar.gz, .tar.zst) follows the body's magic bytes.
func (in *Ingester) startOriginal(ctx context.Context, body io.Reader, user string) (*original, io.Reader, error) {
	br := bufio.NewReaderSize(body, 4<<10)
	magic, _ := br.Peek(4) // a short or failed peek is open's to report
	ext := ".tar"
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		ext = ".tar.gz"
	case bytes.HasPrefix(magic, zstdMagic):
		ext = ".tar.zst"
	}
	p := originalPath(user, time.Now(), uuid.NewString(), ext)
	fw, err := in.opts.Driver.Writer(ctx, p, false)
	if err != nil {
		return nil, nil, fmt.Errorf("shim: creating the upload's archive %s: %w", p, err)
	}
	o := &original{driver: in.opts.Driver, path: p, logger: in.opts.Logger, fw: fw, sum: sha256.New()}
	return o, io.TeeReader(br, o), nil
}

// originalPath is images/{user}/{timestamp}/{id}{ext} under originalRoot.
func originalPath(user string, at time.Time, id, ext string) string {
	return originalRoot + pathSafe(user) + "/" + at.UTC().Format("20060102T150405Z") + "/" + id + ext
}

// pathSafe turns a user name into one path component the storage drivers
// accept ([A-Za-z0-9._-]): other characters (/, @, :, spaces…) become _, a
// name of dots only gets a leading _, so no name can be "." or ".." or
// leave its directory; "" is anonymous. Names are cut at 128 bytes. Two
// names may map to the same directory (a/b and a_b); the uuid keeps their
// archives apart, and the record names the uploader exactly.
func pathSafe(user string) string {
	if user == "" {
		return anonymous
	}
	var b strings.Builder
	for _, r := range user {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 128 {
			break
		}
	}
	s := b.String()
	if strings.Trim(s, ".") == "" {
		s = "_" + s
	}
	return s
}

// Write appends to the archive and its digest. It fails once the archive
// was kept or discarded, so a decompressor's read-ahead that outlives the
// upload cannot write into a removed object.
func (o *original) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended || o.committed {
		return 0, errors.New("shim: the upload's archive is closed")
	}
	n, err := o.fw.Write(p)
	o.sum.Write(p[:n])
	o.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("shim: writing the upload's archive: %w", err)
	}
	return n, nil
}

// commit makes the archive a stored object once the body has been read to
// its end, and returns its size and digest for the records.
func (o *original) commit(ctx context.Context) (int64, digest.Digest, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.fw.Commit(ctx); err != nil {
		return 0, "", fmt.Errorf("shim: storing the upload's archive %s: %w", o.path, err)
	}
	o.committed = true // from here on, discard deletes the object
	if err := o.fw.Close(); err != nil {
		return 0, "", fmt.Errorf("shim: closing the upload's archive %s: %w", o.path, err)
	}
	return o.size, digest.NewDigest(digest.SHA256, o.sum), nil
}

// keep ends the archive's life in the upload: it stays.
func (o *original) keep() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended = true
}

// discard removes the archive, written or committed; its failures are
// logged (it runs after the upload failed). It does nothing after keep.
func (o *original) discard(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return
	}
	o.ended = true
	ctx = context.WithoutCancel(ctx)
	var err error
	if !o.committed {
		// A writer that failed to commit refuses Cancel: delete instead.
		if err = o.fw.Cancel(ctx); err == nil {
			return
		}
		_ = o.fw.Close()
	}
	derr := o.driver.Delete(ctx, o.path)
	var missing storagedriver.PathNotFoundError
	if derr != nil && !errors.As(derr, &missing) {
		o.logger.WarnContext(ctx, "removing a failed upload's archive failed", "path", o.path,
			"error", errors.Join(err, derr).Error())
	}
}
