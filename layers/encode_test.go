package layers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// syntheticEntries makes n entries shaped like a distribution's layer:
// directories of a small vocabulary 3 to 8 deep holding 1 to 12 files of
// skewed sizes (mean 8 kB), a few symlinks.
func syntheticEntries(rnd *rand.Rand, prefix string, n int) []ent {
	words := []string{"usr", "lib", "share", "python3.12", "site-packages", "node_modules", "doc", "locale",
		"include", "bin", "x86_64-linux-gnu", "perl5", "man", "man1", "zoneinfo", "Europe", "src", "test", "cache"}
	var ents []ent
	dirs := map[string]bool{}
	for len(ents) < n {
		depth := 3 + rnd.IntN(6)
		p := prefix
		for i := range depth {
			if i > 0 || p != "" {
				p += "/"
			}
			p += words[rnd.IntN(len(words))]
			if i == 2 {
				p += fmt.Sprint(rnd.IntN(40))
			}
			if !dirs[p] {
				dirs[p] = true
				ents = append(ents, dir(p))
			}
		}
		for range 1 + rnd.IntN(12) {
			name := fmt.Sprintf("%s/file%d.%s", p, rnd.IntN(100000), []string{"so", "py", "js", "h", "mo", "gz"}[rnd.IntN(6)])
			if rnd.IntN(20) == 0 {
				ents = append(ents, symlink(name, "target"))
			} else {
				ents = append(ents, file(name, int(rnd.ExpFloat64()*8000)))
			}
		}
	}
	return ents[:n]
}

func TestIndexRoundTrips(t *testing.T) {
	x := mustIndex(t, append(knownWasteLayers()[4], append(knownWasteLayers()[0], file("a", 1), file("a", 2))...)...)
	x.Unsafe = 2
	b, err := x.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var y LayerIndex
	if err := y.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x, &y) {
		t.Errorf("round trip:\n got %+v\nwant %+v", &y, x)
	}
	// Every truncation and every flipped byte is an error or an index
	// that still keeps its promises, never a panic.
	for i := range b {
		var z LayerIndex
		if z.UnmarshalBinary(b[:i]) == nil {
			t.Errorf("truncated at %d: decoded", i)
		}
		c := bytes.Clone(b)
		c[i] ^= 0x41
		_ = z.UnmarshalBinary(c)
	}
}

// The size of a 20,000-entry layer's index in each form (logged; the
// test keeps the chosen one under 10 bytes an entry).
func TestIndexEncodedSize(t *testing.T) {
	ents := syntheticEntries(rand.New(rand.NewPCG(1, 2)), "", 20000)
	x := mustIndex(t, ents...)
	raw, _ := x.MarshalBinary()
	js, _ := json.Marshal(x)
	stored, err := encodeStored(x)
	if err != nil {
		t.Fatal(err)
	}
	var pathBytes int
	for _, e := range x.Entries {
		pathBytes += len(e.Path)
	}
	n := len(x.Entries)
	t.Logf("%d entries, %d path bytes: json %d B (%.1f/entry), binary %d B (%.1f/entry), binary+zstd %d B (%.1f/entry)",
		n, pathBytes, len(js), float64(len(js))/float64(n), len(raw), float64(len(raw))/float64(n),
		len(stored), float64(len(stored))/float64(n))
	if len(stored) > 10*n {
		t.Errorf("stored index of %d entries takes %d bytes", n, len(stored))
	}
	y, err := decodeStored(stored)
	if err != nil || !reflect.DeepEqual(x, y) {
		t.Errorf("stored round trip: %v", err)
	}
}

func TestDriverStore(t *testing.T) {
	ctx := context.Background()
	s := NewDriverStore(inmemory.New())
	blob := digest.FromString("layer")
	if _, ok, err := s.Get(ctx, blob); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	x := mustIndex(t, knownWasteLayers()[1]...)
	if err := s.Put(ctx, blob, x); err != nil {
		t.Fatal(err)
	}
	y, ok, err := s.Get(ctx, blob)
	if !ok || err != nil || !reflect.DeepEqual(x, y) {
		t.Fatalf("get after put: %v %v", ok, err)
	}
	if _, ok, _ := s.Get(ctx, digest.FromString("other")); ok {
		t.Error("another blob's index")
	}
	if _, _, err := s.Get(ctx, "sha256:nope"); err == nil {
		t.Error("a bad digest was accepted")
	}
	// A damaged entry reads as absent: the layer is indexed again.
	d := inmemory.New()
	s = NewDriverStore(d)
	if err := d.PutContent(ctx, entryPath(blob), []byte("not zstd")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, blob); ok || err != nil {
		t.Errorf("damaged entry: %v %v", ok, err)
	}
}

func TestUnmarshalRefusesBrokenPromises(t *testing.T) {
	enc := func(x *LayerIndex) []byte { b, _ := x.MarshalBinary(); return b }
	for name, x := range map[string]*LayerIndex{
		"unsorted":  {Entries: []Entry{{Path: "b"}, {Path: "a"}}},
		"duplicate": {Entries: []Entry{{Path: "a"}, {Path: "a"}}},
		"unclean":   {Entries: []Entry{{Path: "a/../b"}}},
		"absolute":  {Entries: []Entry{{Path: "/a"}}},
		"empty":     {Entries: []Entry{{Path: ""}}},
		"kind":      {Entries: []Entry{{Path: "a", Kind: 7}}},
	} {
		var y LayerIndex
		if err := y.UnmarshalBinary(enc(x)); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
