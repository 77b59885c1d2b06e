package layers

import (
	"encoding/json"
	"strings"
	"testing"
)

// The summary a record keeps is bounded whatever the report holds.
func TestSummaryIsBounded(t *testing.T) {
	long := "/" + strings.Repeat("x", 5000)
	r := &Report{Efficiency: 0.5, WastedBytes: 7, WastedPercent: 1.5, ImageBytes: 9}
	for i := range 10 {
		r.Waste = append(r.Waste, Finding{Kind: "temp", Path: long, Bytes: int64(100 - i), Layer: i, CreatedBy: long})
	}
	s := r.Summary()
	if len(s.TopWaste) != 3 || s.TopWaste[0].Bytes != 100 || s.Efficiency != 0.5 || s.WastedBytes != 7 || s.ImageBytes != 9 {
		t.Fatalf("summary %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1500 {
		t.Errorf("summary takes %d bytes of JSON", len(b))
	}
	if r.Waste[0].Path != long {
		t.Error("Summary changed the report")
	}
	// An empty report's lists are arrays.
	e, err := Analyze(nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(e); strings.Contains(string(b), "null") || e.Efficiency != 1 {
		t.Errorf("empty report %s", b)
	}
}
