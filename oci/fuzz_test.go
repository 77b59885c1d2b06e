package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fuzzArtifactTypes are the artifact types fuzzed referrers carry.
var fuzzArtifactTypes = []string{"", "application/x.sig", "application/spdx+json"}

// FuzzReferrersIndex runs arbitrary sequences of Add and Remove against
// the index and a model of it, then reads it back. Invariants: List is
// the model in digest order, filtered by artifact type when asked;
// walking pages of any size from the start gives List, without gaps or
// repeats; a page after any "last" (a client's query parameter) holds
// only referrers sorting after it; another subject's referrers never
// show.
func FuzzReferrersIndex(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 1, 0}, "", uint8(2), uint8(1))
	f.Add([]byte{0, 5, 1, 0, 6, 1, 1, 5, 0, 0, 7, 2}, "sha256:8", uint8(0), uint8(2))
	f.Add([]byte{0, 1, 2, 0, 1, 1}, "sha512:", uint8(7), uint8(0))
	f.Fuzz(func(t *testing.T, ops []byte, last string, pageSize, filterIdx uint8) {
		ctx := context.Background()
		x := NewReferrers(inmemory.New())
		subject, other := digest.FromString("subject"), digest.FromString("other subject")
		if err := x.Add(ctx, "team/app", other, referrer("stranger", "")); err != nil {
			t.Fatal(err)
		}
		model := map[digest.Digest]v1.Descriptor{}
		for i := 0; i+2 < len(ops) && i < 3*64; i += 3 {
			d := referrer(fmt.Sprintf("r%d", ops[i+1]%12), fuzzArtifactTypes[int(ops[i+2])%len(fuzzArtifactTypes)])
			if ops[i]%3 == 0 {
				if err := x.Remove(ctx, "team/app", subject, d.Digest); err != nil {
					t.Fatal(err)
				}
				delete(model, d.Digest)
				continue
			}
			if err := x.Add(ctx, "team/app", subject, d); err != nil {
				t.Fatal(err)
			}
			model[d.Digest] = d
		}
		filter := fuzzArtifactTypes[int(filterIdx)%len(fuzzArtifactTypes)]
		var want []string
		for d, desc := range model {
			if filter == "" || desc.ArtifactType == filter {
				want = append(want, d.String())
			}
		}
		slices.Sort(want)
		all, err := x.List(ctx, "team/app", subject, filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := digests(all); !slices.Equal(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
		for _, d := range all {
			if d.ArtifactType != model[d.Digest].ArtifactType || d.Size != model[d.Digest].Size {
				t.Fatalf("descriptor changed in the index: %+v", d)
			}
		}
		size := int(pageSize%9) + 1
		var walked []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatal("pagination does not end")
			}
			page, more, err := x.Page(ctx, "team/app", subject, filter, cursor, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > size || (more && len(page) == 0) {
				t.Fatalf("page of %d with more=%v (size %d)", len(page), more, size)
			}
			walked = append(walked, digests(page)...)
			if !more {
				break
			}
			cursor = page[len(page)-1].Digest.String()
		}
		if !slices.Equal(walked, want) {
			t.Fatalf("pages of %d gave %v, want %v", size, walked, want)
		}
		after, _, err := x.Page(ctx, "team/app", subject, filter, last, 0)
		if err != nil {
			t.Fatalf("a page after %q: %v", last, err)
		}
		for _, d := range after {
			if d.Digest.String() <= last {
				t.Fatalf("a page after %q holds %s", last, d.Digest)
			}
		}
	})
}

// FuzzReferrersAPI asks GET /v2/<name>/referrers/<digest> with arbitrary
// names, digests and queries. Invariants: never a 5xx; a 200 is an image
// index; anything else is a 4xx with an OCI error body.
func FuzzReferrersAPI(f *testing.F) {
	subject := digest.FromString("subject")
	f.Add("team/app", subject.String(), "")
	f.Add("team/app", subject.String(), "artifactType=application/x.sig&last=sha256:0")
	f.Add("Team/App", subject.String(), "")
	f.Add("team/app", "sha256:abc", "")
	f.Add("team/../app", "sha512:"+strings.Repeat("a", 128), "last=%zz")
	f.Add("a/"+strings.Repeat("b", 300), subject.String(), "last="+strings.Repeat("z", 5000))
	f.Fuzz(func(t *testing.T, name, ref, query string) {
		drv := inmemory.New()
		x := NewReferrers(drv)
		for i := range 3 {
			if err := x.Add(context.Background(), "team/app", subject, referrer(fmt.Sprint(i), fuzzArtifactTypes[i])); err != nil {
				t.Fatal(err)
			}
		}
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
		h := NewHandler(next, Options{Driver: drv, PageSize: 2})
		r, err := http.NewRequest(http.MethodGet, "http://registry.test/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.Path, r.URL.RawQuery = "/v2/"+name+"/referrers/"+ref, query
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code == http.StatusOK && parseRoute(r.URL.Path).kind == routeReferrers:
			var idx v1.Index
			if err := json.Unmarshal(w.Body.Bytes(), &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != v1.MediaTypeImageIndex || idx.Manifests == nil {
				t.Fatalf("200 is not an image index: %s", w.Body)
			}
		case w.Code == http.StatusNotFound && parseRoute(r.URL.Path).kind != routeReferrers:
			// not a referrers path: distribution's answer
		case w.Code >= 400 && w.Code < 500:
			var e struct {
				Errors []struct{ Code string } `json:"errors"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code == "" {
				t.Fatalf("%d without an OCI error body: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
	})
}

// FuzzDescribeReferrer: a manifest that names a subject is described by
// its own digest, size and media type, and filed under the subject that
// Subject reads from it.
func FuzzDescribeReferrer(f *testing.F) {
	s := digest.FromString("s").String()
	f.Add(v1.MediaTypeImageManifest, []byte(`{"artifactType":"application/x.sig","config":{"mediaType":"x"},"subject":{"digest":"`+s+`"}}`))
	f.Add("", []byte(`{"mediaType":"`+v1.MediaTypeImageIndex+`","subject":{"digest":"`+s+`"},"annotations":{"a":"b"}}`))
	f.Add(v1.MediaTypeImageManifest, []byte(`{"subject":{"digest":""}}`))
	f.Add(v1.MediaTypeImageManifest, []byte(`{"subject":null,"config":{"mediaType":"x"}}`))
	f.Fuzz(func(t *testing.T, mediaType string, payload []byte) {
		dgst := digest.FromBytes(payload)
		subject, d, ok := DescribeReferrer(mediaType, payload, dgst)
		named, has := Subject(payload)
		if ok != has || subject != named {
			t.Fatalf("DescribeReferrer files under %q (%v), Subject says %q (%v)", subject, ok, named, has)
		}
		if !ok {
			return
		}
		if d.Digest != dgst || d.Size != int64(len(payload)) || (mediaType != "" && d.MediaType != mediaType) {
			t.Fatalf("described as %+v", d)
		}
	})
}
