package push

import (
	"context"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
)

func immutableHarness(t *testing.T) *harness {
	t.Helper()
	im, err := lifecycle.NewImmutability([]lifecycle.ImmutableRule{{Repositories: "prod/**", Tags: []string{"v*.*.*", "release-*"}}})
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, func(o *Options) { o.Immutable = im })
}

// v123 pushes an image to prod/api:v1.2.3 and returns its manifest.
func (h *harness) v123() []byte {
	h.t.Helper()
	first := h.image("prod/api", "one")
	if err := h.pipeline.Run(context.Background(), newPush("prod/api", first, "v1.2.3")); err != nil {
		h.t.Fatalf("creating an immutable tag: %v", err)
	}
	return first
}

const movedV123 = `tag prod/api:v1.2.3 is immutable (rule "prod/**" tags "v*.*.*"); push a new tag instead`

// denied asserts err is 403 DENIED with message want.
func denied(t *testing.T, err error, want string) {
	t.Helper()
	var e errcode.Error
	if !asErr(err, &e) || e.Code != errcode.ErrorCodeDenied || e.Message != want {
		t.Fatalf("error %v, want DENIED %q", err, want)
	}
}

func asErr(err error, e *errcode.Error) bool {
	r, ok := asRefusal(err)
	*e = r
	return ok
}

func TestImmutableTagByTag(t *testing.T) {
	h := immutableHarness(t)
	ctx := context.Background()
	first := h.image("prod/api", "one")
	if err := h.pipeline.Run(ctx, newPush("prod/api", first, "v1.2.3")); err != nil {
		t.Fatalf("creating an immutable tag: %v", err)
	}
	if err := h.pipeline.Run(ctx, newPush("prod/api", first, "v1.2.3")); err != nil {
		t.Fatalf("pushing the same digest again (a retry): %v", err)
	}
	second := newPush("prod/api", h.image("prod/api", "two"), "v1.2.3")
	denied(t, h.pipeline.Run(ctx, second), movedV123)
	if got := h.tag("prod/api", "v1.2.3"); got != digest.FromBytes(first) {
		t.Fatalf("v1.2.3 = %s after a refused move, want %s", got, digest.FromBytes(first))
	}
	if h.stored("prod/api", second.CanonicalDigest()) {
		t.Fatal("the refused manifest was stored")
	}
	if rec := h.record(second.Record().ID); rec.Status != metadata.StatusRejected || rec.Reason != movedV123 {
		t.Fatalf("record %s %q, want rejected %q", rec.Status, rec.Reason, movedV123)
	}
	if err := h.pipeline.Run(ctx, newPush("prod/api", h.image("prod/api", "three"), "latest")); err != nil {
		t.Fatalf("moving an unprotected tag: %v", err)
	}
}

// TestImmutableTagParameter: OCI 1.1's ?tag= on a push by digest moves
// tags like a push by tag; one protected tag refuses the whole push.
func TestImmutableTagParameter(t *testing.T) {
	h := immutableHarness(t)
	ctx := context.Background()
	first := h.v123()
	payload := h.image("prod/api", "two")
	x := newPush("prod/api", payload, "latest", "v1.2.3")
	x.Digest = digest.FromBytes(payload)
	denied(t, h.pipeline.Run(ctx, x), movedV123)
	if h.tag("prod/api", "latest") != "" || h.tag("prod/api", "v1.2.3") != digest.FromBytes(first) {
		t.Fatal("a refused ?tag= push moved a tag")
	}
}

// TestImmutableTagInBatch: one push of an upload moving an immutable tag
// refuses the upload; the others are withdrawn, nothing is stored.
func TestImmutableTagInBatch(t *testing.T) {
	h := immutableHarness(t)
	ctx := context.Background()
	if err := h.pipeline.Run(ctx, newPush("prod/api", h.image("prod/api", "one"), "v1.2.3")); err != nil {
		t.Fatal(err)
	}
	a := newPush("prod/web", h.image("prod/web", "a"), "v1.0.0")
	b := newPush("prod/api", h.image("prod/api", "b"), "v1.2.3")
	for _, x := range []*Push{a, b} {
		x.Source = metadata.SourceTarUpload
		if err := h.pipeline.Gate(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	denied(t, h.pipeline.Commit(ctx, a, b), movedV123)
	if h.tag("prod/web", "v1.0.0") != "" || h.stored("prod/web", a.CanonicalDigest()) {
		t.Fatal("the upload's other image was published")
	}
	if rec := h.record(a.Record().ID); rec.Status != metadata.StatusRejected || !strings.Contains(rec.Reason, movedV123) {
		t.Fatalf("other push recorded %s %q", rec.Status, rec.Reason)
	}
}

func TestImmutableOverrideIsAdminsAndRecorded(t *testing.T) {
	h := immutableHarness(t)
	ctx := context.Background()
	first := h.v123()
	payload := h.image("prod/api", "two")
	notAdmin := newPush("prod/api", payload, "v1.2.3")
	notAdmin.Override = "hotfix"
	denied(t, h.pipeline.Run(ctx, notAdmin), movedV123)

	admin := newPush("prod/api", payload, "v1.2.3")
	admin.Override, admin.Requester = "INC-42 rebuild", Requester{Admin: true, User: metadata.User{Subject: "root"}}
	if err := h.pipeline.Run(ctx, admin); err != nil {
		t.Fatalf("administrator's override refused: %v", err)
	}
	if h.tag("prod/api", "v1.2.3") != digest.FromBytes(payload) {
		t.Fatal("the override did not move the tag")
	}
	rec := h.record(admin.Record().ID)
	want := `immutable tag prod/api:v1.2.3 moved from ` + digest.FromBytes(first).String() + ` to ` +
		digest.FromBytes(payload).String() + ` by administrator override of rule "prod/**" tags "v*.*.*": INC-42 rebuild`
	if rec.Status != metadata.StatusAccepted || len(rec.Overrides) != 1 || rec.Overrides[0] != want {
		t.Fatalf("record %s overrides %q, want %q", rec.Status, rec.Overrides, want)
	}
}

// TestFailedCommitRemovesTheImmutableTagItCreated: the revert of a failed
// commit is no way around immutability: it undoes only what the same
// commit did under the same lock — a protected tag the commit created is
// removed (it names a manifest the revert deletes), one that existed
// stays where it was.
func TestFailedCommitRemovesTheImmutableTagItCreated(t *testing.T) {
	faulty := &failingDriver{}
	im, _ := lifecycle.NewImmutability([]lifecycle.ImmutableRule{{Repositories: "prod/**", Tags: []string{lifecycle.Semver}}})
	h := newHarnessOn(t, faulty.wrap(), t.TempDir()+"/records.db", func(o *Options) { o.Immutable = im })
	ctx := context.Background()
	old := h.image("prod/a", "old")
	if err := h.pipeline.Run(ctx, newPush("prod/a", old, "1.0.0")); err != nil {
		t.Fatal(err)
	}
	a := newPush("prod/a", old, "1.0.0", "2.0.0")
	b := newPush("prod/b", h.image("prod/b", "new"), "1.0.0")
	for _, x := range []*Push{a, b} {
		if err := h.pipeline.Gate(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	faulty.failTagWritesIn("prod/b")
	if err := h.pipeline.Commit(ctx, a, b); err == nil {
		t.Fatal("commit succeeded although tagging prod/b failed")
	}
	if got := h.tag("prod/a", "1.0.0"); got != digest.FromBytes(old) {
		t.Fatalf("prod/a:1.0.0 = %s, want it still %s", got, digest.FromBytes(old))
	}
	if got := h.tag("prod/a", "2.0.0"); got != "" {
		t.Fatalf("prod/a:2.0.0 = %s, want the failed commit's tag removed", got)
	}
}
