package registry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagegate/imagegate/metadata"
)

// records lists every record of repo, newest first.
func (s *testServer) records(t *testing.T, repo string) []*metadata.Record {
	t.Helper()
	page, err := s.store.List(context.Background(), metadata.Query{Repository: repo, Limit: metadata.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return page.Records
}

// TestPushIsRecorded: a tagged push leaves one accepted record with the
// manifest, its layers, sizes, platform, storage keys and requester.
func TestPushIsRecorded(t *testing.T) {
	s := startServer(t, nil)
	img, _ := random.Image(2048, 3)
	ref, _ := name.ParseReference(s.host()+"/rec/app:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithUserAgent("recorder-test/1")); err != nil {
		t.Fatal(err)
	}
	rs := s.records(t, "rec/app")
	if len(rs) != 1 {
		t.Fatalf("%d records, want 1", len(rs))
	}
	r := rs[0]
	d, _ := img.Digest()
	m, _ := img.Manifest()
	raw, _ := img.RawManifest()
	wantSize := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		wantSize += l.Size
	}
	switch {
	case r.Status != metadata.StatusAccepted || r.CommittedAt == nil:
		t.Fatalf("status %s committed %v", r.Status, r.CommittedAt)
	case r.Kind != metadata.KindPush || r.Source != metadata.SourceDockerPush:
		t.Fatalf("kind %s source %s", r.Kind, r.Source)
	case r.Digest.String() != d.String() || !slices.Equal(r.Tags, []string{"v1"}):
		t.Fatalf("digest %s tags %v", r.Digest, r.Tags)
	case r.LayerCount != 3 || len(r.Layers) != 3 || r.Size != wantSize:
		t.Fatalf("layers %d size %d (want %d)", r.LayerCount, r.Size, wantSize)
	case r.Config == nil || r.Config.Digest.String() != m.Config.Digest.String():
		t.Fatalf("config %+v", r.Config)
	case r.ClientIP != "127.0.0.1" || !strings.Contains(r.UserAgent, "recorder-test/1") || r.RequestID == "":
		t.Fatalf("requester: ip %q ua %q request %q", r.ClientIP, r.UserAgent, r.RequestID)
	case r.Storage.Driver != "filesystem" || r.Storage.ManifestKey == "" || len(r.Storage.BlobKeys) != 4:
		t.Fatalf("storage %+v", r.Storage)
	case r.User.Method != "anonymous":
		t.Fatalf("user %+v", r.User)
	}
	for _, l := range m.Layers {
		if r.Storage.BlobKeys[l.Digest.String()] == "" {
			t.Fatalf("no storage key for layer %s", l.Digest)
		}
	}
}

// TestTagMoveAndDeletesAreRecorded: moving a tag, deleting a tag and
// deleting a manifest each leave a record saying so.
func TestTagMoveAndDeletesAreRecorded(t *testing.T) {
	s := startServer(t, nil)
	ref, _ := name.ParseReference(s.host()+"/rec/moves:latest", name.Insecure)
	first, _ := random.Image(512, 1)
	second, _ := random.Image(512, 1)
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	for _, img := range []v1.Image{first, second} {
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	rs := s.records(t, "rec/moves")
	if len(rs) != 2 || rs[0].Digest.String() != d2.String() {
		t.Fatalf("records %d, newest %v", len(rs), rs[0].Digest)
	}
	if moves := rs[0].TagMoves; len(moves) != 1 || moves[0].Tag != "latest" || moves[0].From.String() != d1.String() {
		t.Fatalf("tag move not recorded: %+v", moves)
	}

	// Tag a second name on the first image, then delete that tag.
	other, _ := name.ParseReference(s.host()+"/rec/moves:old", name.Insecure)
	if err := remote.Tag(other.(name.Tag), first); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(other); err != nil {
		t.Fatalf("delete tag: %v", err)
	}
	rs = s.records(t, "rec/moves")
	del := rs[0]
	if del.Kind != metadata.KindDeleteTag || !slices.Equal(del.Tags, []string{"old"}) ||
		del.Digest.String() != d1.String() || del.Status != metadata.StatusAccepted {
		t.Fatalf("tag deletion record: %+v", del)
	}

	// Delete the second manifest by digest: one record listing its tag.
	if err := remote.Delete(ref.Context().Digest(d2.String())); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	rs = s.records(t, "rec/moves")
	del = rs[0]
	if del.Kind != metadata.KindDeleteManifest || del.Digest.String() != d2.String() ||
		!slices.Equal(del.Tags, []string{"latest"}) || del.Status != metadata.StatusAccepted {
		t.Fatalf("manifest deletion record: %+v", del)
	}
	for _, r := range rs {
		if r.Kind == metadata.KindDeleteTag && slices.Contains(r.Tags, "latest") {
			t.Fatalf("the tag removed by the manifest deletion got a record of its own: %+v", r)
		}
	}
}

// TestIndexPushIsRecorded: an index's record lists its children and their
// platforms; each child has its own record.
func TestIndexPushIsRecorded(t *testing.T) {
	s := startServer(t, nil)
	idx, _ := random.Index(256, 1, 2)
	ref, _ := name.ParseReference(s.host()+"/rec/multi:v1", name.Insecure)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	rs := s.records(t, "rec/multi")
	if len(rs) != 3 {
		t.Fatalf("%d records, want 3 (index + 2 children)", len(rs))
	}
	top := rs[0]
	d, _ := idx.Digest()
	if top.Digest.String() != d.String() || len(top.Manifests) != 2 || !slices.Equal(top.Tags, []string{"v1"}) {
		t.Fatalf("index record %+v", top)
	}
}

// TestFailClosedRefusesPushWhenStoreIsDown: with the metadata store gone
// the push is refused with 503 UNAVAILABLE, nothing is tagged, and the
// server reports not ready.
func TestFailClosedRefusesPushWhenStoreIsDown(t *testing.T) {
	s := startServer(t, nil)
	img, _ := random.Image(512, 1)
	ref, _ := name.ParseReference(s.host()+"/rec/down:v1", name.Insecure)
	if err := s.store.Close(); err != nil { // the real store becomes unreachable
		t.Fatal(err)
	}
	err := remote.Write(ref, img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable ||
		len(terr.Errors) == 0 || terr.Errors[0].Code != transport.UnavailableErrorCode {
		t.Fatalf("push with the store down: %v", err)
	}
	if _, err := remote.Head(ref); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("the tag exists after a refused push: %v", err)
	}
	d, _ := img.Digest()
	if _, err := remote.Head(ref.Context().Digest(d.String())); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("the manifest is addressable after a refused push: %v", err)
	}
	if status, _, body := do(t, "GET", s.base+"/readyz", nil, nil); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the store down: %d %s", status, body)
	}
}
