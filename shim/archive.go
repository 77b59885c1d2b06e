package shim

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Sizes under which a file is kept in memory rather than streamed: any
// file up to smallFile, and JSON documents (configs, manifests,
// manifest.json, index.json) up to maxDocument.
const (
	smallFile   = 4 << 10
	maxDocument = 4 << 20
)

// Bounds of the names an archive may use: each entry name and link
// target at most maxNameBytes (PATH_MAX); all of them together count
// against upload.maxmetadatabytes (Limits.MaxMetadataBytes), like the
// documents kept in memory.
const maxNameBytes = 4096

// archive is what one pass over the tar left: small documents in memory,
// every other file already in the blob store, and in-archive links.
type archive struct {
	docs     map[string][]byte
	blobs    map[string]*stored
	links    map[string]string
	docBytes int64
	entries  int

	writer *blobWriter
	lim    Limits
}

// readHooks let the caller follow the archive as it streams by.
type readHooks struct {
	// left is how many more bytes the (decompressed) tar stream may
	// hold under upload.maxdecompressedbytes; nil: no early check.
	left func() int64
	// document, when set, is told about each document kept in memory as
	// soon as it has been read; its error ends the upload.
	document func(name string, data []byte) error
}

// read walks the archive once, refusing unsafe entries, keeping documents
// and streaming every other file into the blob store as it appears. Every
// entry is bounded before a byte of it is read: name lengths, names in
// all, sparse files refused, declared sizes against the limits; ctx is
// checked inside each entry's copy too.
//
// Each stored file's end (its commit) runs on while the next entry is
// read (overlap.go); read returns only when the last one is done, or on
// error when the pending one has stopped.
func read(ctx context.Context, tr *tar.Reader, w *blobWriter, lim Limits, hooks readHooks) (*archive, error) {
	a, err := readEntries(ctx, tr, w, lim, hooks)
	if werr := w.wait(); err == nil && werr != nil {
		err = streamError(werr)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// readEntries is read's walk; the last file's end may still be running.
func readEntries(ctx context.Context, tr *tar.Reader, w *blobWriter, lim Limits, hooks readHooks) (*archive, error) {
	a := &archive{docs: map[string][]byte{}, blobs: map[string]*stored{}, links: map[string]string{}, writer: w, lim: lim}
	seen := map[string]bool{}
	peek := bufio.NewReaderSize(nil, 512)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, streamError(err)
		}
		a.entries++
		if a.entries > lim.MaxEntries {
			return nil, tooLarge("the archive has more than %d entries (upload.maxentries)", lim.MaxEntries)
		}
		if err := a.checkHeader(hdr); err != nil {
			return nil, err
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, '\x00':
		case tar.TypeSymlink, tar.TypeLink:
			target, err := linkTarget(name, hdr)
			if err != nil {
				return nil, err
			}
			if seen[name] {
				return nil, invalid("duplicate entry %q", name)
			}
			seen[name] = true
			a.links[name] = target
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return nil, invalid("entry %q is a device file or FIFO, which an image tarball never holds", name)
		default:
			return nil, invalid("entry %q has unsupported tar type %q", name, string(hdr.Typeflag))
		}
		if name == "." {
			continue
		}
		if seen[name] {
			return nil, invalid("duplicate entry %q", name)
		}
		seen[name] = true
		if hdr.Size < 0 {
			return nil, invalid("entry %q has a negative size", name)
		}
		if hooks.left != nil && hdr.Size > hooks.left() {
			return nil, tooLarge("entry %q declares %d bytes, more than upload.maxdecompressedbytes (%d bytes) leaves", name, hdr.Size, lim.MaxDecompressedBytes)
		}
		if err := a.file(ctx, ctxReader{ctx: ctx, r: tr}, name, hdr.Size, peek); err != nil {
			return nil, err
		}
		if doc, ok := a.docs[name]; ok && hooks.document != nil {
			if err := hooks.document(name, doc); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// checkHeader refuses what no image tarball holds and what would cost
// more than its bytes: sparse files (Go's reader fills their holes, so a
// few KiB could stand for a TiB), and names or link targets longer than
// maxNameBytes. The names are charged to the metadata budget: they are
// kept until the archive ends.
func (a *archive) checkHeader(hdr *tar.Header) error {
	if len(hdr.Name) > maxNameBytes {
		return invalid("an entry name is %d bytes long; at most %d are allowed (%q)", len(hdr.Name), maxNameBytes, cut(hdr.Name))
	}
	if len(hdr.Linkname) > maxNameBytes {
		return invalid("entry %q links to a name of %d bytes; at most %d are allowed", cut(hdr.Name), len(hdr.Linkname), maxNameBytes)
	}
	if isSparse(hdr) {
		return invalid("entry %q is a sparse file, which docker save and OCI image layouts never hold", cut(hdr.Name))
	}
	return a.charge(int64(len(hdr.Name) + len(hdr.Linkname)))
}

// charge counts n bytes kept in memory against Limits.MaxMetadataBytes.
func (a *archive) charge(n int64) error {
	if a.docBytes+n > a.lim.MaxMetadataBytes {
		return tooLarge("the archive's entry names, small files and JSON documents exceed %d bytes in all", a.lim.MaxMetadataBytes)
	}
	a.docBytes += n
	return nil
}

// isSparse reports whether hdr is a GNU sparse file, in the old GNU form
// or in any of the PAX forms (GNU.sparse.* records).
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// ctxReader fails its reads once ctx is done: a cancelled upload stops
// inside an entry, not only between entries.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// file keeps or stores one regular file, checking a blobs/ name against
// the content's digest.
func (a *archive) file(ctx context.Context, r io.Reader, name string, size int64, peek *bufio.Reader) error {
	peek.Reset(r)
	head, _ := peek.Peek(int(min(size, 512)))
	if size <= smallFile || (size <= maxDocument && looksJSON(head)) {
		if err := a.charge(size); err != nil {
			return err
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(peek, data); err != nil {
			return streamError(err)
		}
		a.docs[name] = data
		return checkBlobName(name, digest.FromBytes(data))
	}
	// Its commit goes on while the next entry is read: read waits for it.
	st, err := a.writer.start(ctx, peek)
	if err != nil {
		return streamError(err)
	}
	if st.rawSize != size {
		return invalid("the archive is truncated (entry %q)", name)
	}
	a.blobs[name] = st
	return checkBlobName(name, st.raw)
}

// looksJSON reports whether content starting with head is a JSON document.
func looksJSON(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// checkBlobName checks that a file under blobs/ (OCI layout, Docker ≥ 25)
// holds the content its name promises.
func checkBlobName(name string, got digest.Digest) error {
	rest, ok := strings.CutPrefix(name, "blobs/")
	if !ok {
		return nil
	}
	alg, enc, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(enc, "/") {
		return nil
	}
	want := digest.NewDigestFromEncoded(digest.Algorithm(alg), enc)
	if err := want.Validate(); err != nil {
		return invalid("entry %q is not named by a valid digest: %v", name, err)
	}
	if want.Algorithm() != digest.SHA256 {
		if want.Algorithm().Available() {
			return checkOtherAlgorithm(name, want)
		}
		return invalid("entry %q uses an unsupported digest algorithm", name)
	}
	if got != want {
		return invalid("digest mismatch: %s holds content with digest %s", name, got)
	}
	return nil
}

// checkOtherAlgorithm refuses blobs named by another algorithm than
// sha256: the shim digests content with sha256 only.
func checkOtherAlgorithm(name string, _ digest.Digest) error {
	return invalid("entry %q is named by a %s digest; only sha256 blobs are supported", name, path.Dir(strings.TrimPrefix(name, "blobs/")))
}

// entryName checks and cleans a tar entry name: relative, no "..", no NUL
// or backslash.
func entryName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", invalid("an entry has an empty name")
	case strings.ContainsAny(raw, "\x00\\"):
		return "", invalid("entry %q has a NUL or backslash in its name", raw)
	case strings.HasPrefix(raw, "/"):
		return "", invalid("entry %q has an absolute path", raw)
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", invalid("entry %q has a path with \"..\"", raw)
		}
	}
	return strings.TrimPrefix(path.Clean(raw), "./"), nil
}

// linkTarget is the archive name a link resolves to. Links must stay
// inside the archive: older `docker save` writes layer.tar symlinks to a
// layer it already wrote; anything else is refused.
func linkTarget(name string, hdr *tar.Header) (string, error) {
	kind := "symlink"
	if hdr.Typeflag == tar.TypeLink {
		kind = "hardlink"
	}
	t := hdr.Linkname
	if t == "" || strings.HasPrefix(t, "/") || strings.ContainsAny(t, "\x00\\") {
		return "", invalid("%s %q points outside the archive (target %q)", kind, name, t)
	}
	if hdr.Typeflag == tar.TypeSymlink {
		t = path.Join(path.Dir(name), t)
	} else {
		t = path.Clean(t)
	}
	if t == ".." || strings.HasPrefix(t, "../") {
		return "", invalid("%s %q points outside the archive (target %q)", kind, name, hdr.Linkname)
	}
	return strings.TrimPrefix(t, "./"), nil
}

// resolve follows links from name to a file's name.
func (a *archive) resolve(name string) (string, bool) {
	name = strings.TrimPrefix(path.Clean(name), "./")
	for range 16 {
		t, ok := a.links[name]
		if !ok {
			_, doc := a.docs[name]
			_, blob := a.blobs[name]
			return name, doc || blob
		}
		name = t
	}
	return "", false
}

// document returns the in-memory file name refers to.
func (a *archive) document(name, what string) ([]byte, error) {
	n, ok := a.resolve(name)
	if !ok {
		return nil, invalid("%s names %q, which is missing from the archive", what, name)
	}
	d, ok := a.docs[n]
	if !ok {
		return nil, invalid("%s names %q, which is not a JSON document of at most %d bytes", what, name, maxDocument)
	}
	return d, nil
}

// blob returns the stored file name refers to, storing an in-memory one
// first.
func (a *archive) blob(ctx context.Context, name, what string) (*stored, error) {
	n, ok := a.resolve(name)
	if !ok {
		return nil, invalid("%s names %q, which is missing from the archive", what, name)
	}
	if st, ok := a.blobs[n]; ok {
		return st, nil
	}
	st, err := a.writer.store(ctx, bytes.NewReader(a.docs[n]))
	if err != nil {
		return nil, err
	}
	a.blobs[n] = st
	return st, nil
}
