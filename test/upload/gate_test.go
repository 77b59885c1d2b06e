package upload

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

// TestBothDoorsSameRecord pushes one image with a registry client and the
// same image as a tarball: the two records differ only in id, source,
// times and request id.
func TestBothDoorsSameRecord(t *testing.T) {
	s := start(t, nil)
	img := randomImage(t, 16<<10, 3)
	ref, err := name.ParseReference(s.host+"/team/doors:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithUserAgent("doors-test")); err != nil {
		t.Fatal(err)
	}
	pushed := s.records(t, "team/doors")
	if len(pushed) != 1 {
		t.Fatalf("%d records after the push", len(pushed))
	}
	r := s.upload(t, "/upload-image", "", bytesReader(ggcrTarball(t, map[string]v1Tag{"team/doors:1": img})),
		http.Header{"User-Agent": {"go-containerregistry/v0.22.1 doors-test"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	recs := s.records(t, "team/doors")
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	uploaded, docker := *recs[0], *pushed[0]
	if uploaded.Source != metadata.SourceTarUpload || docker.Source != metadata.SourceDockerPush {
		t.Fatalf("sources %q and %q", uploaded.Source, docker.Source)
	}
	// The tarball's record says the tag moved from… the same digest: no.
	for _, rec := range []*metadata.Record{&uploaded, &docker} {
		rec.ID, rec.Source, rec.ReceivedAt, rec.CommittedAt, rec.RequestID, rec.UserAgent = "", "", time.Time{}, nil, "", ""
		if rec.Analysis == nil {
			t.Fatalf("a record without its layer analysis: %+v", rec)
		}
		a := *rec.Analysis
		a.AnalyzedAt = time.Time{}
		rec.Analysis = &a
	}
	if !reflect.DeepEqual(uploaded, docker) {
		t.Fatalf("records differ:\ntar-upload:  %+v\ndocker-push: %+v", uploaded, docker)
	}
}

// TestRefusalRevertsTheUpload: when the gate refuses the second image of
// an archive, the first one — which passed the gate — is never stored nor
// announced: an upload is gated whole before anything is committed. The
// answer is the gate's refusal; the first image's record says why it was
// not published.
func TestRefusalRevertsTheUpload(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Validation.MaxLayers = 2 })
	ok, tooMany := randomImage(t, 4096, 1), randomImage(t, 4096, 3)
	archive := dockerSave(t, false, saveImage{img: ok, tags: []string{"team/rev:ok"}}, saveImage{img: tooMany, tags: []string{"team/rev:bad"}})
	r := s.upload(t, "/upload-image", "", bytesReader(archive), nil)
	if r.Status != http.StatusForbidden || len(r.Errors) == 0 || r.Errors[0].Code != "DENIED" {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	if s.exists(t, "team/rev:ok") || s.exists(t, "team/rev:bad") {
		t.Fatal("a tag of the refused upload is visible")
	}
	recs := s.records(t, "team/rev")
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	withdrawn := 0
	for _, rec := range recs {
		if rec.Kind != metadata.KindPush || rec.Status != metadata.StatusRejected {
			t.Fatalf("record %+v, want a rejected push", rec)
		}
		if strings.Contains(rec.Reason, "not published") {
			withdrawn++
			if s.exists(t, "team/rev@"+rec.Digest.String()) {
				t.Fatal("the image that passed the gate was stored although the upload was refused")
			}
		}
	}
	if withdrawn != 1 {
		t.Fatalf("%d records say the image was not published, want 1", withdrawn)
	}
}
