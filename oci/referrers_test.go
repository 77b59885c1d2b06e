package oci

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func referrer(content, artifactType string) v1.Descriptor {
	return v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString(content), Size: int64(len(content)),
		ArtifactType: artifactType, Annotations: map[string]string{"content": content}}
}

func digests(ds []v1.Descriptor) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Digest.String()
	}
	return out
}

func TestReferrersOrderFilterAndRemove(t *testing.T) {
	ctx := context.Background()
	x := NewReferrers(inmemory.New())
	// The subject was never pushed: referrers may come first.
	subject := digest.FromString("a subject that does not exist yet")
	sig, sbom, sbom2 := referrer("sig", "application/vnd.dev.cosign.simplesigning.v1+json"),
		referrer("sbom", "application/spdx+json"), referrer("sbom2", "application/spdx+json")
	for _, d := range []v1.Descriptor{sbom, sig, sbom2} {
		if err := x.Add(ctx, "team/app", subject, d); err != nil {
			t.Fatal(err)
		}
	}
	// A referrer of another subject, and one in another repository.
	if err := x.Add(ctx, "team/app", digest.FromString("other"), referrer("x", "")); err != nil {
		t.Fatal(err)
	}
	if err := x.Add(ctx, "team/other", subject, referrer("y", "")); err != nil {
		t.Fatal(err)
	}

	all, err := x.List(ctx, "team/app", subject, "")
	if err != nil {
		t.Fatal(err)
	}
	want := digests([]v1.Descriptor{sbom, sig, sbom2})
	slices.Sort(want)
	if got := digests(all); !slices.Equal(got, want) {
		t.Fatalf("referrers = %v, want %v (sorted by digest)", got, want)
	}
	if all[0].Annotations["content"] == "" || all[0].ArtifactType == "" || all[0].Size == 0 {
		t.Errorf("descriptor lost fields: %+v", all[0])
	}

	spdx, err := x.List(ctx, "team/app", subject, "application/spdx+json")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(spdx); got != 2 || spdx[0].ArtifactType != "application/spdx+json" || spdx[1].ArtifactType != "application/spdx+json" {
		t.Fatalf("filtered referrers = %+v, want the 2 SBOMs", spdx)
	}

	if err := x.Remove(ctx, "team/app", subject, sig.Digest); err != nil {
		t.Fatal(err)
	}
	if err := x.Remove(ctx, "team/app", subject, sig.Digest); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	left, err := x.List(ctx, "team/app", subject, "")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(digests(left), sig.Digest.String()) || len(left) != 2 {
		t.Fatalf("after removing the signature: %v", digests(left))
	}

	none, err := x.List(ctx, "team/app", digest.FromString("nothing refers to this"), "")
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("no referrers: got %v, %v; want an empty, non-nil list", none, err)
	}
}

func TestReferrersAddIsIdempotent(t *testing.T) {
	ctx := context.Background()
	x := NewReferrers(inmemory.New())
	subject := digest.FromString("s")
	d := referrer("sig", "a")
	for range 2 {
		if err := x.Add(ctx, "r", subject, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := x.List(ctx, "r", subject, "")
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want one referrer", got, err)
	}
}

// countingDriver counts the files read from its driver.
type countingDriver struct {
	storagedriver.StorageDriver
	reads atomic.Int64
}

func (d *countingDriver) GetContent(ctx context.Context, path string) ([]byte, error) {
	d.reads.Add(1)
	return d.StorageDriver.GetContent(ctx, path)
}

// TestPage: pages follow each other in digest order without gaps or
// repeats, with and without a filter, and a page reads about its own size
// of referrer files, not all of them.
func TestPage(t *testing.T) {
	ctx := context.Background()
	drv := &countingDriver{StorageDriver: inmemory.New()}
	x := NewReferrers(drv)
	subject := digest.FromString("s")
	var all, sigs []string
	for i := range 50 {
		typ := "application/x.sbom"
		if i%5 == 0 {
			typ = "application/x.sig"
		}
		d := referrer(fmt.Sprintf("r%d", i), typ)
		if err := x.Add(ctx, "r", subject, d); err != nil {
			t.Fatal(err)
		}
		all = append(all, d.Digest.String())
		if typ == "application/x.sig" {
			sigs = append(sigs, d.Digest.String())
		}
	}
	slices.Sort(all)
	slices.Sort(sigs)
	for _, tc := range []struct {
		filter string
		want   []string
	}{{"", all}, {"application/x.sig", sigs}} {
		var seen []string
		last := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			before := drv.reads.Load()
			page, more, err := x.Page(ctx, "r", subject, tc.filter, last, 7)
			if err != nil {
				t.Fatal(err)
			}
			if reads := drv.reads.Load() - before; tc.filter == "" && reads > 8 {
				t.Errorf("a page of 7 read %d referrer files", reads)
			}
			seen = append(seen, digests(page)...)
			if !more {
				break
			}
			last = page[len(page)-1].Digest.String()
		}
		if !slices.Equal(seen, tc.want) {
			t.Errorf("filter %q: pages gave %v, want %v", tc.filter, seen, tc.want)
		}
	}
	if page, more, err := x.Page(ctx, "r", digest.FromString("none"), "", "", 7); err != nil || page == nil || len(page) != 0 || more {
		t.Fatalf("no referrers: %v %v %v", page, more, err)
	}
}

func TestDescribeReferrer(t *testing.T) {
	subject := digest.FromString("s")
	for _, tc := range []struct {
		name, mediaType, payload, wantType string
		ok                                 bool
	}{
		{"image with artifactType", v1.MediaTypeImageManifest,
			`{"artifactType":"application/x.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"subject":{"digest":"` + subject.String() + `"}}`,
			"application/x.sig", true},
		{"image without artifactType: config type", v1.MediaTypeImageManifest,
			`{"config":{"mediaType":"application/x.sbom.config"},"subject":{"digest":"` + subject.String() + `"}}`,
			"application/x.sbom.config", true},
		{"index with artifactType", v1.MediaTypeImageIndex,
			`{"artifactType":"application/x.idx","manifests":[],"subject":{"digest":"` + subject.String() + `"}}`,
			"application/x.idx", true},
		{"no subject", v1.MediaTypeImageManifest, `{"config":{"mediaType":"x"}}`, "", false},
		{"not JSON", v1.MediaTypeImageManifest, `{`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dgst := digest.FromString(tc.payload)
			s, d, ok := DescribeReferrer(tc.mediaType, []byte(tc.payload), dgst)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if s != subject || d.ArtifactType != tc.wantType || d.Digest != dgst || d.MediaType != tc.mediaType || d.Size != int64(len(tc.payload)) {
				t.Errorf("got subject %s, %+v", s, d)
			}
		})
	}
}
