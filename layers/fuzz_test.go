package layers

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzIndex feeds Index arbitrary streams (seeded with real layer tars):
// it must return an index that keeps its promises or an error, within
// its limits, and never panic.
func FuzzIndex(f *testing.F) {
	for _, l := range knownWasteLayers() {
		f.Add(layerTar(f, l...))
	}
	f.Add(layerTar(f, file("../../x", 3), file("/abs", 1), file(strings.Repeat("d/", 30)+"f", 1), whiteout("a/b"), opaque("c")))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxEntries: 200, MaxPathBytes: 256, MaxDepth: 20}
		x, err := Index(context.Background(), bytes.NewReader(b), lim)
		if err != nil {
			return
		}
		if len(x.Entries) > lim.MaxEntries {
			t.Fatalf("%d entries", len(x.Entries))
		}
		for i, e := range x.Entries {
			if clean, escaped, ok := cleanName(e.Path); !ok || escaped || clean != e.Path || e.Path == "" || len(e.Path) > lim.MaxPathBytes {
				t.Fatalf("entry %d: path %q", i, e.Path)
			}
			if i > 0 && compareEntries(x.Entries[i-1], e) >= 0 {
				t.Fatalf("entry %d out of order", i)
			}
		}
		enc, _ := x.MarshalBinary()
		var y LayerIndex
		if err := y.UnmarshalBinary(enc); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := Analyze([]Layer{{Index: x}, {Index: &y}}, lim); err != nil && !errors.Is(err, ErrLimit) {
			t.Fatalf("Analyze: %v", err)
		}
	})
}

// FuzzUnmarshalIndex feeds UnmarshalBinary arbitrary bytes (seeded with
// real encodings): an error, or an index that keeps its promises and
// survives a round trip (varints may come overlong: the bytes may differ).
func FuzzUnmarshalIndex(f *testing.F) {
	for _, l := range knownWasteLayers() {
		b, _ := mustIndex(f, l...).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var x LayerIndex
		if err := x.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error not errCorrupt: %v", err)
			}
			return
		}
		again, _ := x.MarshalBinary()
		var y LayerIndex
		if err := y.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(x, y) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := Analyze([]Layer{{Index: &x}}, Limits{}); err != nil && !errors.Is(err, ErrLimit) {
			t.Fatalf("Analyze: %v", err)
		}
	})
}
