package layers

import (
	"path"
	"strings"
)

// The whiteout names of the OCI image layer specification (and AUFS,
// which Docker inherited): ".wh.<name>" removes <name> from lower layers,
// ".wh..wh..opq" makes its directory opaque, any other ".wh..wh.<x>" is
// AUFS metadata that appliers skip.
const (
	whiteoutPrefix = ".wh."
	metaPrefix     = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
)

// cleanName turns a tar entry name into an index path: "/"-rooted then
// cleaned, so "..", ".", "//" and a leading "/" cannot leave or name the
// root ("../../etc/x" is "etc/x", as containerd's applier roots it). It
// returns "" for the root itself. escaped says the name tried to leave the
// root; ok is false for a name with a NUL, which no applier can create.
//
// The result never shares memory with name: a tar reader may hand out
// names that point into a PAX block of up to 1 MiB, which an index holding
// a million paths must not keep alive.
func cleanName(name string) (p string, escaped, ok bool) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", false, false
	}
	rel := path.Clean(name)
	escaped = rel == ".." || strings.HasPrefix(rel, "../")
	rooted := path.Clean("/" + name) // a new string: "/" + name copies
	return rooted[1:], escaped, true
}

// depth is the number of components of a cleaned, non-empty path.
func depth(p string) int { return strings.Count(p, "/") + 1 }

// splitWhiteout classifies a cleaned path: a whiteout of target, the
// opaque marker of directory target, AUFS metadata to skip (skip), or a
// plain entry (neither flag set, target == p).
func splitWhiteout(p string) (target string, whiteout, opaque, skip bool) {
	dir, base := path.Split(p)
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return p, false, false, false
	}
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == opaqueMarker:
		// A marker at the root would hide every lower layer: no builder
		// writes one and appliers differ; it is skipped.
		return dir, false, dir != "", dir == ""
	case strings.HasPrefix(base, metaPrefix):
		return "", false, false, true
	}
	name := base[len(whiteoutPrefix):]
	if name == "" || name == "." || name == ".." {
		return "", false, false, true
	}
	if dir == "" {
		return name, true, false, false
	}
	return dir + "/" + name, true, false, false
}

// displayPath is how a report shows an index path: absolute, as a
// container sees it.
func displayPath(p string) string { return "/" + p }
