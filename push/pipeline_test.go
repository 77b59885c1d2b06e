package push

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

func TestRunStoresTagsAndRecords(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := h.image("team/app", "one")
	x := newPush("team/app", first, "v1")
	if err := h.pipeline.Run(ctx, x); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(first)
	if got := h.tag("team/app", "v1"); got != d {
		t.Fatalf("tag v1 = %q, want %s", got, d)
	}
	rec := h.record(x.Record().ID)
	if rec.Status != metadata.StatusAccepted || rec.Digest != d || len(rec.TagMoves) != 0 {
		t.Fatalf("record = %+v", rec)
	}

	second := h.image("team/app", "two")
	y := newPush("team/app", second, "v1")
	if err := h.pipeline.Run(ctx, y); err != nil {
		t.Fatal(err)
	}
	moves := h.record(y.Record().ID).TagMoves
	if len(moves) != 1 || moves[0].Tag != "v1" || moves[0].From != d {
		t.Fatalf("second push's tag moves = %+v, want v1 from %s", moves, d)
	}
	if ev := h.events.list(); len(ev) != 2 || ev[1].Status != metadata.StatusAccepted || ev[1].ID != y.Record().ID {
		t.Fatalf("events = %+v", ev)
	}
}

// TestGateRefusals: each refusal is an OCI error, leaves a rejected record
// (published), and stores nothing.
func TestGateRefusals(t *testing.T) {
	h := newHarness(t)
	missing := digest.FromString("not uploaded")
	cases := []struct {
		name      string
		mediaType string
		payload   []byte
		code      errcode.ErrorCode
	}{
		{"blob missing", v1.MediaTypeImageManifest,
			h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageManifest,
				"config": v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: missing, Size: 2}, "layers": []v1.Descriptor{}}),
			errcode.ErrorCodeManifestBlobUnknown},
		{"not json", v1.MediaTypeImageManifest, []byte("{not json"), errcode.ErrorCodeManifestInvalid},
		{"schema version", v1.MediaTypeImageManifest, []byte(`{"schemaVersion":1,"mediaType":"` + v1.MediaTypeImageManifest + `"}`),
			errcode.ErrorCodeManifestInvalid},
		{"index of unknown child", v1.MediaTypeImageIndex,
			h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageIndex,
				"manifests": []v1.Descriptor{{MediaType: v1.MediaTypeImageManifest, Digest: missing, Size: 2}}}),
			errcode.ErrorCodeManifestBlobUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := &Push{Repository: "team/refused", MediaType: c.mediaType, Payload: c.payload, Tags: []string{"latest"}}
			err := h.pipeline.Run(context.Background(), x)
			var e errcode.Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Fatalf("error = %v, want %s", err, c.code)
			}
			if x.Record() == nil {
				t.Fatal("no record")
			}
			if rec := h.record(x.Record().ID); rec.Status != metadata.StatusRejected || rec.Reason == "" {
				t.Fatalf("record = %+v, want rejected with a reason", rec)
			}
			if h.tag("team/refused", "latest") != "" || h.stored("team/refused", digest.FromBytes(c.payload)) {
				t.Fatal("a refused manifest was stored or tagged")
			}
		})
	}
}

// TestSameTagPushesAreTruthful: concurrent pushes of different manifests
// to one tag serialise on the tag's lock: every record but the first says
// the tag moved from the manifest of the push before it, and the tag ends
// on the one manifest no record moved it from.
func TestSameTagPushesAreTruthful(t *testing.T) {
	h := newHarness(t)
	const n = 8
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = h.image("race/app", strings.Repeat("x", i+1))
	}
	pushes := make([]*Push, n)
	var wg sync.WaitGroup
	for i := range pushes {
		pushes[i] = newPush("race/app", payloads[i], "latest")
		wg.Go(func() {
			if err := h.pipeline.Run(context.Background(), pushes[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	from := map[digest.Digest]bool{}
	firsts := 0
	for _, x := range pushes {
		rec := h.record(x.Record().ID)
		if rec.Status != metadata.StatusAccepted {
			t.Fatalf("record %s is %s", rec.ID, rec.Status)
		}
		switch len(rec.TagMoves) {
		case 0:
			firsts++
		case 1:
			if from[rec.TagMoves[0].From] {
				t.Fatalf("two records say latest moved from %s", rec.TagMoves[0].From)
			}
			from[rec.TagMoves[0].From] = true
		default:
			t.Fatalf("record has moves %+v", rec.TagMoves)
		}
	}
	final := h.tag("race/app", "latest")
	if firsts != 1 || len(from) != n-1 || from[final] {
		t.Fatalf("records do not chain: %d without a move, %d distinct moves, final %s moved from: %v", firsts, len(from), final, from[final])
	}
}

// TestClientGoneAfterPendingStillCommits: once the pending record is
// written, a cancelled request does not stop the store, the links or the
// tag — nor the referrers index entry.
func TestClientGoneAfterPendingStillCommits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	armed := &atomic.Bool{}
	h := newHarness(t, func(o *Options) { o.Recorder = cancelOnPending{Recorder: o.Recorder, cancel: cancel, armed: armed} })
	subject := h.image("gone/app", "subject")
	if err := h.pipeline.Run(context.Background(), newPush("gone/app", subject, "v1")); err != nil {
		t.Fatal(err)
	}
	cfg := h.blob("gone/app", "application/vnd.example.sbom", []byte(`{}`))
	referrer := h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageManifest,
		"artifactType": "application/vnd.example.sbom", "config": cfg, "layers": []v1.Descriptor{},
		"subject": v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(subject), Size: int64(len(subject))}})
	x := newPush("gone/app", referrer, "sbom")
	armed.Store(true)
	if err := h.pipeline.Run(ctx, x); err != nil {
		t.Fatalf("push whose client left after the pending record: %v", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the fake did not cancel the request")
	}
	if h.tag("gone/app", "sbom") != digest.FromBytes(referrer) {
		t.Fatal("tag not set")
	}
	if rec := h.record(x.Record().ID); rec.Status != metadata.StatusAccepted {
		t.Fatalf("record = %s", rec.Status)
	}
	page, err := h.pipeline.opts.Referrers.List(context.Background(), "gone/app", digest.FromBytes(subject), "")
	if err != nil || len(page) != 1 || page[0].Digest != digest.FromBytes(referrer) {
		t.Fatalf("referrers = %+v, %v", page, err)
	}
}

// cancelOnPending is a fake recorder (a real store cannot make a client
// leave): it cancels the request as soon as a pending record is written.
type cancelOnPending struct {
	Recorder
	cancel context.CancelFunc
	armed  *atomic.Bool
}

func (c cancelOnPending) Put(ctx context.Context, r *metadata.Record) error {
	err := c.Recorder.Put(ctx, r)
	if r.Status == metadata.StatusPending && c.armed.Load() {
		c.cancel()
	}
	return err
}

// TestFailedCommitRestoresTags: when storing fails part-way through a
// batch, every tag the batch moved names what it named before, new
// manifests are deleted, and every record says failed — no accepted event.
func TestFailedCommitRestoresTags(t *testing.T) {
	faulty := &failingDriver{}
	h := newHarnessOn(t, faulty.wrap(), t.TempDir()+"/records.db")
	old := h.image("batch/a", "old")
	if err := h.pipeline.Run(context.Background(), newPush("batch/a", old, "v1")); err != nil {
		t.Fatal(err)
	}
	a := newPush("batch/a", h.image("batch/a", "new"), "v1")
	b := newPush("batch/b", h.image("batch/b", "new"), "v1")
	for _, x := range []*Push{a, b} {
		if err := h.pipeline.Gate(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	faulty.failTagWritesIn("batch/b")
	if err := h.pipeline.Commit(context.Background(), a, b); err == nil {
		t.Fatal("commit succeeded although tagging batch/b failed")
	}
	if got := h.tag("batch/a", "v1"); got != digest.FromBytes(old) {
		t.Fatalf("batch/a:v1 = %s, want it restored to %s", got, digest.FromBytes(old))
	}
	if h.stored("batch/a", a.CanonicalDigest()) || h.stored("batch/b", b.CanonicalDigest()) {
		t.Fatal("a failed commit left a new manifest stored")
	}
	for _, x := range []*Push{a, b} {
		if rec := h.record(x.Record().ID); rec.Status != metadata.StatusFailed {
			t.Fatalf("record of %s = %s, want failed", x.Repository, rec.Status)
		}
	}
	for _, ev := range h.events.list()[1:] {
		if ev.Status == metadata.StatusAccepted {
			t.Fatalf("an accepted event was published for a failed commit: %+v", ev)
		}
	}
}

// failingDriver is a fake fault (a real driver fails at random, not on
// cue): after failTagWritesIn, writes of tag links in that repository fail.
type failingDriver struct {
	storagedriver.StorageDriver
	mu   sync.Mutex
	repo string
}

func (f *failingDriver) wrap() storagedriver.StorageDriver {
	f.StorageDriver = inmemory.New()
	return f
}

func (f *failingDriver) failTagWritesIn(repo string) {
	f.mu.Lock()
	f.repo = repo
	f.mu.Unlock()
}

func (f *failingDriver) PutContent(ctx context.Context, path string, content []byte) error {
	f.mu.Lock()
	repo := f.repo
	f.mu.Unlock()
	if repo != "" && strings.Contains(path, "/repositories/"+repo+"/_manifests/tags/") {
		return errors.New("injected tag write failure")
	}
	return f.StorageDriver.PutContent(ctx, path, content)
}

// TestBatchIndexOverItsChildren: an upload's index is gated with its
// children still unstored (they passed the gate earlier in the batch) and
// the commit stores children before the index; alone, the same index is
// refused because its children never went through the gate here.
func TestBatchIndexOverItsChildren(t *testing.T) {
	h := newHarness(t)
	a, b := h.image("multi/app", "amd64"), h.image("multi/app", "arm64")
	index := h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageIndex,
		"manifests": []v1.Descriptor{
			{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(a), Size: int64(len(a))},
			{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}}})
	alone := &Push{Repository: "multi/app", MediaType: v1.MediaTypeImageIndex, Payload: index, Tags: []string{"v1"}}
	if err := h.pipeline.Run(context.Background(), alone); err == nil {
		t.Fatal("an index over children that never passed the gate was accepted")
	}
	ctx := context.Background()
	batch := []*Push{newPush("multi/app", a), newPush("multi/app", b),
		{Repository: "multi/app", MediaType: v1.MediaTypeImageIndex, Payload: index, Tags: []string{"v1"}}}
	for i, x := range batch {
		if err := h.pipeline.Gate(ctx, x, batch[:i]...); err != nil {
			t.Fatalf("gating %d: %v", i, err)
		}
	}
	if len(h.events.list()) != 1 { // the refusal above only
		t.Fatalf("events before the commit: %+v", h.events.list())
	}
	if err := h.pipeline.Commit(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if h.tag("multi/app", "v1") != digest.FromBytes(index) {
		t.Fatal("the index is not tagged")
	}
	if ev := h.events.list(); len(ev) != 4 {
		t.Fatalf("%d events after the commit, want 1 + 3", len(ev))
	}
}

// TestUnrecordedBatchStoresNothing: when the pending record of one push of
// a batch cannot be written (fail-closed), nothing is stored and the
// records already written are finished as failed, not left pending.
func TestUnrecordedBatchStoresNothing(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Recorder = refuseRepo{Recorder: o.Recorder, repo: "batch/b"} })
	a := newPush("batch/a", h.image("batch/a", "a"), "v1")
	b := newPush("batch/b", h.image("batch/b", "b"), "v1")
	ctx := context.Background()
	for _, x := range []*Push{a, b} {
		if err := h.pipeline.Gate(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	var e errcode.Error
	if err := h.pipeline.Commit(ctx, a, b); !errors.As(err, &e) || e.Code != errcode.ErrorCodeUnavailable {
		t.Fatalf("commit: %v, want UNAVAILABLE", err)
	}
	if rec := h.record(a.Record().ID); rec.Status != metadata.StatusFailed {
		t.Fatalf("the written record is %s, want failed", rec.Status)
	}
	if h.stored("batch/a", a.CanonicalDigest()) || h.tag("batch/a", "v1") != "" {
		t.Fatal("something was stored although a record could not be written")
	}
}

// refuseRepo is a fake recorder (a real store fails at random, not on
// cue): it refuses the records of one repository as unavailable.
type refuseRepo struct {
	Recorder
	repo string
}

func (r refuseRepo) Put(ctx context.Context, rec *metadata.Record) error {
	if rec.Repository == r.repo && rec.Status == metadata.StatusPending {
		return metadata.ErrUnavailable
	}
	return r.Recorder.Put(ctx, rec)
}
