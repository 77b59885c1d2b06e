package shim

import (
	"context"
	"errors"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/manifest/ocischema"
	"github.com/distribution/reference"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// storeImage stores a one-layer image with content in repo (no gate: the
// test sets the stage the revert finds) and returns its descriptor.
func storeImage(t *testing.T, repo distribution.Repository, content string) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	bs := repo.Blobs(ctx)
	layer := tarOf(t, fuzzEntry{name: "f", data: []byte(content)})
	ld, err := bs.Put(ctx, v1.MediaTypeImageLayer, layer)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := bs.Put(ctx, v1.MediaTypeImageConfig, configOf(t, layer))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ocischema.FromStruct(ocischema.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
		Config: cd, Layers: []v1.Descriptor{ld}})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ms.Put(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := m.Payload()
	return v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: d, Size: int64(len(payload))}
}

// TestRevertTag: reverting a refused upload sets a tag back only while it
// still names what the upload set — a push that moved it since wins — and
// only to a manifest still in the repository; otherwise the tag goes.
// Before, the revert wrote the old descriptor back blindly.
func TestRevertTag(t *testing.T) {
	ctx := context.Background()
	_, ns, in := fuzzIngester(t)
	named, _ := reference.WithName("team/app")
	plain, err := ns.Repository(ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	gated := in.opts.Gate.Wrap(plain, metadata.SourceTarUpload)
	before, ours, theirs := storeImage(t, plain, "before"), storeImage(t, plain, "ours"), storeImage(t, plain, "theirs")
	tags := plain.Tags(ctx)
	tag := func(name string, d v1.Descriptor) {
		if err := tags.Tag(ctx, name, d); err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string) v1.Descriptor {
		d, err := tags.Get(ctx, name)
		var unknown distribution.ErrTagUnknown
		if err != nil && !errors.As(err, &unknown) {
			t.Fatal(err)
		}
		return d
	}

	tag("still-ours", ours)
	tag("moved", theirs)
	tag("prev-gone", ours)
	tag("was-new", ours)
	for _, u := range []undo{
		{gated: gated, plain: plain, tag: "still-ours", prev: before, set: ours.Digest},
		{gated: gated, plain: plain, tag: "moved", prev: before, set: ours.Digest},
		{gated: gated, plain: plain, tag: "prev-gone", prev: v1.Descriptor{Digest: storeImage(t, plain, "gone").Digest}, set: ours.Digest},
		{gated: gated, plain: plain, tag: "was-new", set: ours.Digest},
	} {
		if u.tag == "prev-gone" {
			ms, _ := plain.Manifests(ctx)
			if err := ms.Delete(ctx, u.prev.Digest); err != nil {
				t.Fatal(err)
			}
		}
		if err := in.revertTag(ctx, u); err != nil {
			t.Fatalf("%s: %v", u.tag, err)
		}
	}
	if d := get("still-ours"); d.Digest != before.Digest {
		t.Errorf("still-ours names %s, want the previous %s", d.Digest, before.Digest)
	}
	if d := get("moved"); d.Digest != theirs.Digest {
		t.Errorf("moved names %s, want the other push's %s", d.Digest, theirs.Digest)
	}
	if d := get("prev-gone"); d.Digest != "" {
		t.Errorf("prev-gone names %s, want no tag (its previous manifest was deleted)", d.Digest)
	}
	if d := get("was-new"); d.Digest != "" {
		t.Errorf("was-new names %s, want no tag", d.Digest)
	}
}
