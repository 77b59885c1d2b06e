package layers

import (
	"github.com/opencontainers/go-digest"
)

// Layer is one layer of the image Analyze looks at.
type Layer struct {
	Digest         digest.Digest // the blob's (compressed) digest
	CompressedSize int64
	CreatedBy      string // the config history entry of this layer (empty_layer entries skipped)
	Index          *LayerIndex
}

// Report is what the gate records (Summary), the API serves and the CLI
// prints. Paths in it are absolute ("/var/cache/apt"), as a container sees
// them; sizes are content bytes (tar headers and padding not counted).
// docs/layers.md defines every figure and cites Dive's source.
type Report struct {
	Layers     []LayerReport `json:"layers"`
	ImageBytes int64         `json:"image_bytes"` // bytes a container sees (final tree)
	ImageFiles int           `json:"image_files"` // regular files in the final tree
	// HiddenBytes is TotalBytes - ImageBytes: what the layers carry that
	// no container sees (overwritten, deleted, duplicated), Docker's
	// semantics. Dive's WastedBytes differs: it counts every version of an
	// overwritten file and none of a deleted directory's.
	HiddenBytes int64 `json:"hidden_bytes"`
	// TotalBytes is the sum of every layer's content bytes, duplicates
	// inside a layer included (Dive's SizeBytes).
	TotalBytes int64 `json:"total_bytes"`
	// UserBytes is TotalBytes without the first layer (Dive's
	// UserSizeBytes).
	UserBytes     int64   `json:"user_bytes"`
	WastedBytes   int64   `json:"wasted_bytes"`   // Dive's definition
	WastedPercent float64 `json:"wasted_percent"` // WastedBytes / TotalBytes * 100
	// WastedUserPercent is WastedBytes / UserBytes * 100: Dive's
	// WastedUserPercent (a fraction there, a percentage here), the basis
	// of its highestUserWastedPercent rule. 0 when UserBytes is 0.
	WastedUserPercent float64        `json:"wasted_user_percent"`
	Efficiency        float64        `json:"efficiency"`     // Dive's definition, 0..1
	Inefficiencies    []Inefficiency `json:"inefficiencies"` // Dive's list without its zero-byte rows; largest first
	Largest           []FileRef      `json:"largest"`
	Waste             []Finding      `json:"waste"` // recognisable waste, largest first
	Hints             []Hint         `json:"hints"` // largest saving first
	// Truncated says a list was cut at Limits.MaxListed (or Largest).
	Truncated bool `json:"truncated,omitempty"`
}

// LayerReport holds one layer's figures. Counts and bytes of added,
// modified and removed paths cover non-directories only (directories are
// re-emitted by every builder whenever a child changes); Removed counts
// what a whiteout or opaque directory hides or a file replacing a
// directory drops.
type LayerReport struct {
	Digest            digest.Digest `json:"digest"`
	CompressedSize    int64         `json:"compressed_size"`
	UncompressedBytes int64         `json:"uncompressed_bytes"` // LayerIndex.TarBytes
	Files             int           `json:"files"`
	AddedBytes        int64         `json:"added_bytes"`
	ModifiedBytes     int64         `json:"modified_bytes"` // the new versions' bytes
	RemovedBytes      int64         `json:"removed_bytes"`
	Added             int           `json:"added"`
	Modified          int           `json:"modified"`
	Removed           int           `json:"removed"`
	Whiteouts         int           `json:"whiteouts"` // whiteout and opaque entries
	// DuplicateBytes are bytes of entries a later entry of the same path
	// replaced inside this layer.
	DuplicateBytes int64 `json:"duplicate_bytes,omitempty"`
	Unsafe         int   `json:"unsafe,omitempty"` // LayerIndex.Unsafe
	// ZstdEstimate is the layer's file content compressed with zstd, as
	// its sample predicts (sample.go); 0 without a sample.
	ZstdEstimate int64  `json:"zstd_estimate,omitempty"`
	CreatedBy    string `json:"created_by"`
}

// Inefficiency is one row of Dive's inefficiency list: a path that two
// or more layers hold (or remove), and its cumulative size over them.
type Inefficiency struct {
	Path        string `json:"path"`
	Count       int    `json:"count"`        // layers that hold or remove it
	WastedBytes int64  `json:"wasted_bytes"` // Dive's CumulativeSize
}

// FileRef is a file of the final tree.
type FileRef struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Layer int    `json:"layer"` // the layer that last wrote it
}

// Finding is recognisable waste: Kind is one of "package-cache", "git",
// "toolchain", "test-data", "temp" (waste.go, docs/layers.md). Bytes are
// the regular files under Path that layer Layer wrote, whether later
// layers kept them or not: they are in that layer's blob either way.
type Finding struct {
	Kind       string `json:"kind"`
	Path       string `json:"path"` // the directory
	Bytes      int64  `json:"bytes"`
	FinalBytes int64  `json:"final_bytes"` // of Bytes, what the final tree still shows
	Files      int    `json:"files"`
	Layer      int    `json:"layer"`
	CreatedBy  string `json:"created_by"`
}

// Hint says what to do and what it saves.
type Hint struct {
	Action string `json:"action"` // "delete", "merge", "recompress"
	// Text reads like `delete /var/cache/apt in the same RUN as
	// "apt-get install …" (layer 3): saves 380 MB`; it numbers layers
	// from 1.
	Text   string `json:"text"`
	Layers []int  `json:"layers"`
	// Bytes is the saving: uncompressed bytes for delete and merge,
	// compressed bytes for recompress.
	Bytes int64 `json:"bytes"`
}

// Summary is what a push record keeps: a few figures and at most
// summaryWaste findings, their strings cut to summaryText bytes.
type Summary struct {
	Efficiency    float64   `json:"efficiency"`
	WastedBytes   int64     `json:"wasted_bytes"`
	WastedPercent float64   `json:"wasted_percent"`
	ImageBytes    int64     `json:"image_bytes"`
	TopWaste      []Finding `json:"top_waste,omitempty"` // at most 3
}

const (
	summaryWaste = 3
	summaryText  = 160
)

// Summary returns the bounded summary of r.
func (r *Report) Summary() Summary {
	s := Summary{
		Efficiency:    r.Efficiency,
		WastedBytes:   r.WastedBytes,
		WastedPercent: r.WastedPercent,
		ImageBytes:    r.ImageBytes,
	}
	for _, f := range r.Waste[:min(len(r.Waste), summaryWaste)] {
		f.Path = truncate(f.Path, summaryText)
		f.CreatedBy = truncate(f.CreatedBy, summaryText)
		s.TopWaste = append(s.TopWaste, f)
	}
	return s
}

// nonNil makes every list of r a JSON array, never null.
func (r *Report) nonNil() {
	if r.Inefficiencies == nil {
		r.Inefficiencies = []Inefficiency{}
	}
	if r.Largest == nil {
		r.Largest = []FileRef{}
	}
	if r.Waste == nil {
		r.Waste = []Finding{}
	}
	if r.Hints == nil {
		r.Hints = []Hint{}
	}
}
