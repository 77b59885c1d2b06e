package layers

import (
	"archive/tar"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ctxEvery is how many entries Index reads between two looks at ctx.
const ctxEvery = 256

// Index reads one layer's uncompressed tar stream r to its end (the
// padding after the end-of-archive marker included, so a caller teeing r
// into a digest sees every byte) and returns its index. It never writes to
// disk; it keeps 32 bytes plus the cleaned path per entry and reads file
// contents through one 64 KiB buffer, compressing a sample of them (one
// in 32, sparser past 16 MiB) to estimate the layer's compressibility
// (sample.go).
//
// Paths are cleaned (cleanName): traversal is rooted and counted in
// Unsafe, names with a NUL are dropped and counted. A layer with more
// than lim.MaxEntries entries or lim.MaxIndexBytes bytes of paths, or a
// path longer than lim.MaxPathBytes or deeper than lim.MaxDepth, is
// refused with a *LimitError (Layer 0: the caller knows the layer's
// position). A stream that is not a tar, or ends early, is an error
// wrapping archive/tar's; ctx's end, one wrapping ctx.Err().
func Index(ctx context.Context, r io.Reader, lim Limits) (*LayerIndex, error) {
	lim = lim.withDefaults()
	x := &LayerIndex{}
	pathBytes := 0
	var sample sampler
	tr := tar.NewReader(r)
	for n := 1; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// ErrInsecurePath comes with a usable header (GODEBUG
		// tarinsecurepath=0): cleanName roots the name.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return nil, fmt.Errorf("layers: reading the layer's tar after %d entries: %w", n-1, err)
		}
		if n > lim.MaxEntries {
			return nil, &LimitError{Limit: "entries", Max: lim.MaxEntries}
		}
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("layers: indexing the layer: %w", err)
			}
		}
		before := len(x.Entries)
		if err := x.add(hdr, lim); err != nil {
			return nil, err
		}
		if len(x.Entries) > before {
			pathBytes += len(x.Entries[before].Path)
		}
		if pathBytes > lim.MaxIndexBytes {
			return nil, &LimitError{Limit: "index bytes", Max: lim.MaxIndexBytes}
		}
		if kindOf(hdr.Typeflag) == File && hdr.Size > 0 {
			if err := sample.read(ctx, tr); err != nil {
				// A name may be 1 MiB long: the message quotes its start.
				return nil, fmt.Errorf("layers: reading %q in the layer's tar: %w", truncate(hdr.Name, 120), err)
			}
		}
	}
	x.SampleBytes, x.SampleZstdBytes = sample.raw, sample.packed
	// tar.Reader stops at the end-of-archive marker; the blob may go on
	// with zero padding that the caller's digest must still see.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("layers: reading the end of the layer: %w", err)
	}
	x.settle()
	return x, nil
}

// add appends the entry of hdr (tar.Reader skips its content on the
// next Next).
func (x *LayerIndex) add(hdr *tar.Header, lim Limits) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX defaults for later entries, not an entry
	}
	p, escaped, ok := cleanName(hdr.Name)
	if !ok {
		x.Unsafe++
		return nil
	}
	if escaped {
		x.Unsafe++
	}
	if p == "" {
		return nil // the root directory itself
	}
	if len(p) > lim.MaxPathBytes {
		return &LimitError{Limit: "path bytes", Max: lim.MaxPathBytes}
	}
	if depth(p) > lim.MaxDepth {
		return &LimitError{Limit: "depth", Max: lim.MaxDepth}
	}
	target, whiteout, opaque, skip := splitWhiteout(p)
	switch {
	case skip:
		return nil
	case whiteout:
		x.Entries = append(x.Entries, Entry{Path: target, Kind: File, Whiteout: true})
		return nil
	case opaque:
		x.Entries = append(x.Entries, Entry{Path: target, Kind: Dir, Opaque: true})
		return nil
	}
	e := Entry{Path: p, Kind: kindOf(hdr.Typeflag)}
	if e.Kind == File && hdr.Size > 0 {
		e.Size = hdr.Size
	}
	x.Entries = append(x.Entries, e)
	return nil
}

// kindOf maps a tar type flag to a Kind. Flags archive/tar does not know
// (vendor extensions) are Other.
func kindOf(flag byte) Kind {
	switch flag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		return File
	case tar.TypeDir:
		return Dir
	case tar.TypeSymlink:
		return Symlink
	case tar.TypeLink:
		return Hardlink
	default:
		return Other
	}
}

// compareEntries orders entries by path, then class (marker, whiteout,
// entry).
func compareEntries(a, b Entry) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return cmp.Compare(a.class(), b.class())
}

// settle sorts the entries, keeps the last of each path and class (the
// sort is stable: tar order decides) and computes the totals.
func (x *LayerIndex) settle() {
	slices.SortStableFunc(x.Entries, compareEntries)
	out := x.Entries[:0]
	for i, e := range x.Entries {
		if i+1 < len(x.Entries) && compareEntries(e, x.Entries[i+1]) == 0 {
			x.Duplicates++
			x.DuplicateBytes += e.Size
			continue
		}
		out = append(out, e)
	}
	clear(x.Entries[len(out):]) // drop the replaced paths' strings
	x.Entries = slices.Clip(out)
	x.Bytes, x.Files = 0, 0
	for _, e := range x.Entries {
		if e.Kind == File && !e.Whiteout {
			x.Bytes += e.Size
			x.Files++
		}
	}
}
