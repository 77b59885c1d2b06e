package layers

// CONTRACT between the two helpers of issue 17 (layers-core writes this
// package; layers-gate uses it). layers-core may add fields and helpers;
// it must not remove or rename what is here without telling the lead.
// This file is replaced by real files (index.go, analyze.go, report.go…)
// before the branch lands: no stub may reach main.

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"
)

// Limits bound Index and Analyze. Zero fields take the defaults of
// DefaultLimits.
type Limits struct {
	MaxEntries      int // entries in one layer (default 1,000,000)
	MaxPathBytes    int // bytes of one path (default 4096)
	MaxDepth        int // path components (default 256)
	MaxImageEntries int // distinct paths across the image (default 2,000,000)
	Largest         int // files listed in Report.Largest (default 20)
}

// ErrLimit is matched (errors.Is) by every *LimitError.
var ErrLimit = errors.New("layers: a limit was passed")

func (e *LimitError) Error() string { return e.Limit }

// LimitError names the limit a layer or image passed (for a 4xx message).
type LimitError struct {
	Limit string // "entries", "path bytes", "depth", "image entries"
	Max   int
	Layer int // 0-based layer index, -1 for the image
}

// Entry is one tar entry of a layer, as the index keeps it.
type Entry struct {
	Path     string // cleaned, relative, "/" separated, no leading "/"
	Size     int64  // regular files: content bytes; others 0
	Kind     Kind
	Whiteout bool // ".wh.<name>": removes Path in lower layers
	Opaque   bool // ".wh..wh..opq": Path is an opaque directory
}

// Kind is an entry's type.
type Kind uint8

const (
	File Kind = iota
	Dir
	Symlink
	Hardlink
	Other
)

// LayerIndex is one layer's entries and totals. It is what Store caches
// per blob; its encoding (MarshalBinary/UnmarshalBinary or JSON) is
// layers-core's choice and must round-trip.
type LayerIndex struct {
	Entries []Entry
	Bytes   int64 // sum of regular files' Size
	Files   int   // regular files
}

// Index reads one layer's uncompressed tar stream r to its end.
func Index(ctx context.Context, r io.Reader, lim Limits) (*LayerIndex, error) { panic("layers-core") }

// Layer is one layer of the image Analyze looks at.
type Layer struct {
	Digest         digest.Digest // the blob's (compressed) digest
	CompressedSize int64
	CreatedBy      string // the config history entry of this layer (empty_layer entries skipped)
	Index          *LayerIndex
}

// Analyze merges layers (bottom first) into a report.
func Analyze(layers []Layer, lim Limits) (*Report, error) { panic("layers-core") }

// Report is what the gate records (Summary), the API serves and the CLI
// prints. Field names are JSON names too (snake_case tags).
type Report struct {
	Layers         []LayerReport
	ImageBytes     int64          // bytes a container sees (final tree)
	TotalBytes     int64          // sum of every layer's files (Dive's "total image size" basis)
	WastedBytes    int64          // Dive's definition
	WastedPercent  float64        // WastedBytes / TotalBytes * 100
	Efficiency     float64        // Dive's definition, 0..1
	Inefficiencies []Inefficiency // Dive's list: path, count, wasted bytes; largest first
	Largest        []FileRef
	Waste          []Finding // recognisable waste, largest first
	Hints          []Hint
}

// LayerReport: per-layer figures.
type LayerReport struct {
	Digest                                  digest.Digest
	CompressedSize                          int64
	UncompressedBytes                       int64
	Files                                   int
	AddedBytes, ModifiedBytes, RemovedBytes int64
	Added, Modified, Removed                int // entry counts
	CreatedBy                               string
}

type Inefficiency struct {
	Path        string
	Count       int // layers that hold it
	WastedBytes int64
}

type FileRef struct {
	Path  string
	Size  int64
	Layer int
}

// Finding is recognisable waste: Kind is one of "package-cache",
// "git", "toolchain", "test-data", "temp" (layers-core documents the list).
type Finding struct {
	Kind      string
	Path      string // the directory or file
	Bytes     int64
	Layer     int
	CreatedBy string
}

// Hint says what to do and what it saves.
type Hint struct {
	Action string // "delete", "merge", "recompress"
	Text   string // e.g. `delete /var/cache/apt in the same RUN as "apt-get install …" (layer 3): saves 380 MB`
	Layers []int
	Bytes  int64
}

// Summary is what a push record keeps (small, bounded).
func (r *Report) Summary() Summary { panic("layers-core") }

type Summary struct {
	Efficiency    float64
	WastedBytes   int64
	WastedPercent float64
	ImageBytes    int64
	TopWaste      []Finding // at most 3
}
