package metadata

import "time"

// AnalysisSummary is the layer analysis's outcome (package analysis),
// filled in by the gate. It is bounded — at most MaxAnalysisWaste waste
// entries, paths and commands cut to MaxAnalysisText bytes — so that a
// record stays far below DynamoDB's 400 KB item limit; the full report
// is served by GET /api/v1/repositories/{name}/manifests/{digest}/layers.
type AnalysisSummary struct {
	AnalyzedAt time.Time `json:"analyzed_at"`
	// PolicyName is the pattern of the analysis policy that applied.
	PolicyName string `json:"policy,omitempty"`
	// Verdict is "<mode>:pass", "enforce:block", "audit:would-refuse" or
	// "<mode>:unanalysable".
	Verdict string `json:"verdict"`
	// Message is what the pusher was told (or would have been).
	Message       string  `json:"message,omitempty"`
	Efficiency    float64 `json:"efficiency"`
	WastedBytes   int64   `json:"wasted_bytes"`
	WastedPercent float64 `json:"wasted_percent"`
	ImageBytes    int64   `json:"image_bytes"`
	// TopWaste is the largest recognisable waste, largest first.
	TopWaste []AnalysisWaste `json:"top_waste,omitempty"`
	// Error says why the image could not be analysed.
	Error string `json:"error,omitempty"`
}

// AnalysisWaste is one recognisable waste of an image.
type AnalysisWaste struct {
	Kind  string `json:"kind"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	// Layer is 0-based.
	Layer     int    `json:"layer"`
	CreatedBy string `json:"created_by,omitempty"`
}

// Bounds of an AnalysisSummary.
const (
	MaxAnalysisWaste = 3
	MaxAnalysisText  = 512
)
