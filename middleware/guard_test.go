package middleware

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/manifest/ocischema"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
)

// guarded opens repo through the guard, over a fresh in-memory registry
// and a bbolt record store.
func guarded(t *testing.T) (distribution.Repository, distribution.Repository, *bolt.Store) {
	t.Helper()
	ctx := context.Background()
	ns, err := storage.NewRegistry(ctx, inmemory.New(), storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(t.TempDir(), "records.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	named, _ := reference.WithName("team/app")
	plain, err := ns.Repository(ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{Recorder: store})
	repo, err := initRepository(ctx, plain, map[string]any{optionGuard: g})
	if err != nil {
		t.Fatal(err)
	}
	return repo, plain, store
}

// TestGuardRefusesWrites: a manifest PUT or a tag write that reaches
// distribution's handlers (a routing mistake) is refused, and nothing is
// stored: only the push pipeline stores manifests and moves tags.
func TestGuardRefusesWrites(t *testing.T) {
	ctx := context.Background()
	repo, plain, _ := guarded(t)
	cfg, err := plain.Blobs(ctx).Put(ctx, v1.MediaTypeImageConfig, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ocischema.FromStruct(ocischema.Manifest{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{}})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var e errcode.Error
	if _, err := ms.Put(ctx, m); !errors.As(err, &e) || e.Code != errcode.ErrorCodeUnsupported {
		t.Fatalf("Put through the guard: %v, want UNSUPPORTED", err)
	}
	_, payload, _ := m.Payload()
	d := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digestOf(payload), Size: int64(len(payload))}
	if err := repo.Tags(ctx).Tag(ctx, "v1", d); !errors.As(err, &e) || e.Code != errcode.ErrorCodeUnsupported {
		t.Fatalf("Tag through the guard: %v, want UNSUPPORTED", err)
	}
	pms, _ := plain.Manifests(ctx)
	if ok, _ := pms.Exists(ctx, d.Digest); ok {
		t.Fatal("the refused manifest was stored")
	}
	if _, err := plain.Tags(ctx).Get(ctx, "v1"); err == nil {
		t.Fatal("the refused tag was set")
	}
}

// TestGuardRecordsTagDeletion: a tag removal through the guard leaves one
// accepted delete-tag record naming the tag and what it pointed at.
func TestGuardRecordsTagDeletion(t *testing.T) {
	ctx := context.Background()
	repo, plain, store := guarded(t)
	d := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digestOf([]byte("m")), Size: 1}
	if err := plain.Tags(ctx).Tag(ctx, "old", d); err != nil {
		t.Fatal(err)
	}
	if err := repo.Tags(ctx).Untag(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	page, err := store.List(ctx, metadata.Query{Repository: "team/app"})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("%d records, %v", len(page.Records), err)
	}
	rec := page.Records[0]
	if rec.Kind != metadata.KindDeleteTag || rec.Status != metadata.StatusAccepted || rec.Digest != d.Digest || rec.Tags[0] != "old" {
		t.Fatalf("record %+v", rec)
	}
}

func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }
