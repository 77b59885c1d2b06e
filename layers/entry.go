package layers

// Entry is one tar entry of a layer, as the index keeps it.
type Entry struct {
	Path string // cleaned, relative, "/" separated, no leading "/", never "" or ".."
	Size int64  // regular files: content bytes; others 0
	Kind Kind
	// Whiteout: the entry was ".wh.<name>" and removes Path from lower
	// layers; it has Kind File and Size 0.
	Whiteout bool
	// Opaque: the entry was "<Path>/.wh..wh..opq", the marker that hides
	// every lower-layer child of the directory Path. It is the marker only
	// (Kind Dir, Size 0): the directory's own entry, if the tar has one, is
	// another Entry with the same Path.
	Opaque bool
}

// Kind is an entry's type.
type Kind uint8

// The kinds of entries. Other covers devices and FIFOs.
const (
	File Kind = iota
	Dir
	Symlink
	Hardlink
	Other
)

// String names the kind ("file", "dir", …).
func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case Hardlink:
		return "hardlink"
	default:
		return "other"
	}
}

// class orders entries of the same path inside a layer: the opaque
// marker, then the whiteout, then the entry itself — the order in which
// they apply (a marker and a whiteout act on lower layers only).
func (e *Entry) class() int {
	switch {
	case e.Opaque:
		return 0
	case e.Whiteout:
		return 1
	default:
		return 2
	}
}

// LayerIndex is one layer's entries and totals: what Store caches per
// blob. Entries are sorted by Path (then marker, whiteout, entry) and hold
// one entry per path and class: when a tar repeats a path, the last entry
// wins, as Docker and containerd apply it.
type LayerIndex struct {
	Entries []Entry
	Bytes   int64 // sum of regular files' Size (Entries only)
	Files   int   // regular files in Entries (whiteouts not counted)
	// Duplicates counts entries that a later entry of the same path
	// replaced inside this layer, DuplicateBytes their content: bytes the
	// blob carries that no container sees.
	Duplicates     int
	DuplicateBytes int64
	// Unsafe counts entries whose names tried to leave the root ("..")
	// or held a NUL: the former are kept, rooted as containerd roots them
	// ("../../etc/x" is "etc/x"), the latter dropped.
	Unsafe int
	// SampleBytes of file content, chunks of 64 KiB or less (one in 32,
	// sparser past 16 MiB, each counted for the chunks it stands for),
	// compressed alone with zstd into SampleZstdBytes (sample.go): the
	// layer's compressibility, for the recompression hint. Only their
	// ratio means something.
	SampleBytes, SampleZstdBytes int64
}

// TarBytes is the content bytes of the layer's tar: its files plus the
// duplicates replaced inside it (Dive's layer size).
func (x *LayerIndex) TarBytes() int64 { return x.Bytes + x.DuplicateBytes }
