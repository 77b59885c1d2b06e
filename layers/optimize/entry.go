package optimize

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"
)

// kind is what a tar entry does to the file system.
type kind uint8

const (
	kFile     kind = iota // regular file
	kDir                  // directory
	kSymlink              // symbolic link
	kHardlink             // hard link to an earlier path
	kOther                // device, FIFO
	kWhiteout             // ".wh.<name>": removes <name> from lower layers
	kOpaque               // "<dir>/.wh..wh..opq": hides dir's lower children
	kRoot                 // the root directory itself ("./"): kept (the last one, in a squash)
	kMeta                 // AUFS metadata (".wh..wh.<x>") or a PAX global header: kept likewise
)

// entry is one tar entry as the planner keeps it: its cleaned path (the
// identity Docker applies it by), its kind, size and, for a hard link,
// its cleaned target. The header itself is read again when rewriting.
type entry struct {
	path string // cleaned, relative, no leading "/"; for whiteouts the path removed
	link string // hard links: the cleaned target path
	size int64
	kind kind
}

// verID names one entry of the original image: layer and position in
// its tar (counting every header tar.Reader returns).
type verID struct{ layer, idx int32 }

// none is the verID of a directory no entry created (an implicit parent).
var none = verID{-1, -1}

// HostileError reports a tar entry optimize refuses to rewrite: a name
// or hard-link target that leaves the root, an absolute name, a NUL.
type HostileError struct {
	Layer int    // 0-based
	Name  string // as the tar has it, cut to 200 bytes
	Why   string
}

// Error says which layer holds what and why it is refused.
func (e *HostileError) Error() string {
	return fmt.Sprintf("optimize: layer %d: entry %q %s; refusing to rewrite the image", e.Layer+1, e.Name, e.Why)
}

// classify turns a tar header into an entry. Names that are absolute,
// leave the root ("../x") or hold a NUL, and hard links whose target
// does, are a *HostileError: Docker would root them, but an image that
// has them is no image to rewrite silently.
func classify(layer int, hdr *tar.Header) (entry, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return entry{kind: kMeta, path: "\x00pax-global"}, nil
	}
	p, why := cleanPath(hdr.Name)
	if why != "" {
		return entry{}, &HostileError{Layer: layer, Name: cut(hdr.Name), Why: why}
	}
	if p == "" {
		return entry{kind: kRoot}, nil
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == ".wh..wh..opq":
		if dir == "" {
			return entry{kind: kMeta, path: p}, nil // a marker at the root: appliers differ, kept as is
		}
		return entry{path: dir, kind: kOpaque}, nil
	case strings.HasPrefix(base, ".wh..wh."):
		return entry{kind: kMeta, path: p}, nil
	case strings.HasPrefix(base, ".wh."):
		return entry{path: path.Join(dir, base[len(".wh."):]), kind: kWhiteout}, nil
	}
	e := entry{path: p}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		e.kind, e.size = kFile, max(hdr.Size, 0)
	case tar.TypeDir:
		e.kind = kDir
	case tar.TypeSymlink:
		e.kind = kSymlink
	case tar.TypeLink:
		e.kind = kHardlink
		l, why := cleanPath(hdr.Linkname)
		if why != "" || l == "" {
			if why == "" {
				why = "names the root"
			}
			return entry{}, &HostileError{Layer: layer, Name: cut(hdr.Name), Why: "is a hard link whose target " + why}
		}
		e.link = l
	default:
		e.kind = kOther
	}
	return e, nil
}

// cleanPath cleans a tar name into a relative path ("" for the root);
// why is non-empty for a name optimize refuses.
func cleanPath(name string) (p, why string) {
	switch {
	case strings.IndexByte(name, 0) >= 0:
		return "", "holds a NUL byte"
	case strings.HasPrefix(name, "/"):
		return "", "is an absolute path"
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", "leaves the image root"
	}
	if c == "." {
		return "", ""
	}
	return strings.Clone(c), ""
}

// cut shortens a name for an error message.
func cut(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
