package diffid

import (
	"context"
	"slices"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// TestEntryPaths: every object a DriverStore writes for a blob, in every
// diff_id algorithm Put accepts, is one of EntryPaths and below EntryDir;
// another blob's are neither.
func TestEntryPaths(t *testing.T) {
	ctx := context.Background()
	d := inmemory.New()
	s := NewDriverStore(d)
	blob, other := digest.FromString("layer"), digest.FromString("other layer")
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512} {
		for _, b := range []digest.Digest{blob, other} {
			if err := s.Put(ctx, b, alg.FromString("uncompressed "+b.String())); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stored []string
	if err := d.Walk(ctx, storeRoot, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			stored = append(stored, fi.Path())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 6 {
		t.Fatalf("stored %v", stored)
	}
	for _, p := range stored {
		mine := strings.Contains(p, blob.Encoded())
		if slices.Contains(EntryPaths(blob), p) != mine || strings.HasPrefix(p, EntryDir(blob)+"/") != mine {
			t.Errorf("%s: of %s %v, in EntryPaths %v, below EntryDir %s", p, blob, mine, EntryPaths(blob), EntryDir(blob))
		}
	}
}
