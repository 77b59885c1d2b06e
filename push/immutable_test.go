package push

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
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

// TestImmutableTagInBatch: an upload's images passed the gate while
// v1.2.3 did not exist; another push created it before the upload's
// commit. The commit's check, under the tag lock, sees it: the whole
// upload is refused, the other image withdrawn, nothing stored.
func TestImmutableTagInBatch(t *testing.T) {
	h := immutableHarness(t)
	ctx := context.Background()
	a := newPush("prod/web", h.image("prod/web", "a"), "v1.0.0")
	b := newPush("prod/api", h.image("prod/api", "b"), "v1.2.3")
	for _, x := range []*Push{a, b} {
		x.Source = metadata.SourceTarUpload
		if err := h.pipeline.Gate(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	h.v123() // the racing push, between the upload's gate and its commit
	denied(t, h.pipeline.Commit(ctx, a, b), movedV123)
	if h.tag("prod/web", "v1.0.0") != "" || h.stored("prod/web", a.CanonicalDigest()) || h.stored("prod/api", b.CanonicalDigest()) {
		t.Fatal("the refused upload stored or tagged something")
	}
	if rec := h.record(a.Record().ID); rec.Status != metadata.StatusRejected || !strings.Contains(rec.Reason, movedV123) {
		t.Fatalf("other push recorded %s %q", rec.Status, rec.Reason)
	}
	if rec := h.record(b.Record().ID); rec.Status != metadata.StatusRejected || rec.Reason != movedV123 {
		t.Fatalf("refused push recorded %s %q", rec.Status, rec.Reason)
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

// countingScanner counts scans and finds nothing.
type countingScanner struct{ scans atomic.Int32 }

func (s *countingScanner) Scan(context.Context, scan.Target) (*scan.Report, error) {
	s.scans.Add(1)
	return &scan.Report{Scanner: "counting", ScannedAt: time.Now()}, nil
}
func (*countingScanner) Status(context.Context) scan.Status { return scan.Status{} }
func (*countingScanner) Close() error                       { return nil }

// TestImmutableRefusedBeforeTheScan: a push moving a tag that is already
// protected is refused before validation and scanning — a doomed push
// costs no scan — and recorded like a refusal at commit.
func TestImmutableRefusedBeforeTheScan(t *testing.T) {
	im, _ := lifecycle.NewImmutability([]lifecycle.ImmutableRule{{Repositories: "prod/**", Tags: []string{"v*.*.*"}}})
	set, err := policy.NewSet([]policy.Rule{{Repositories: "**", Mode: policy.Audit, Severity: scan.SeverityHigh, OnError: policy.Accept}})
	if err != nil {
		t.Fatal(err)
	}
	sc := &countingScanner{}
	h := newHarness(t, func(o *Options) {
		o.Immutable = im
		o.Scanning = Scanning{Scanner: sc, Policies: set, Timeout: time.Minute}
	})
	h.v123()
	if sc.scans.Load() != 1 {
		t.Fatalf("%d scans of the first push", sc.scans.Load())
	}
	x := newPush("prod/api", h.image("prod/api", "two"), "v1.2.3")
	denied(t, h.pipeline.Run(context.Background(), x), movedV123)
	if n := sc.scans.Load(); n != 1 {
		t.Fatalf("%d scans: the refused push was scanned", n)
	}
	if rec := h.record(x.Record().ID); rec.Status != metadata.StatusRejected || rec.Reason != movedV123 {
		t.Fatalf("record %s %q", rec.Status, rec.Reason)
	}
}

// TestImmutableTagRace: eight pushes of different images create the same
// protected tag at once; exactly one wins, the tag names it, every other
// push is refused and recorded so.
func TestImmutableTagRace(t *testing.T) {
	h := immutableHarness(t)
	const n = 8
	pushes := make([]*Push, n)
	for i := range pushes {
		pushes[i] = newPush("prod/api", h.image("prod/api", string(rune('a'+i))), "v9.9.9")
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, x := range pushes {
		wg.Go(func() { errs[i] = h.pipeline.Run(context.Background(), x) })
	}
	wg.Wait()
	var winner *Push
	for i, err := range errs {
		switch {
		case err == nil && winner == nil:
			winner = pushes[i]
		case err == nil:
			t.Fatal("two pushes created the same immutable tag")
		default:
			denied(t, err, `tag prod/api:v9.9.9 is immutable (rule "prod/**" tags "v*.*.*"); push a new tag instead`)
			if rec := h.record(pushes[i].Record().ID); rec.Status != metadata.StatusRejected {
				t.Fatalf("refused push recorded %s", rec.Status)
			}
		}
	}
	if winner == nil || h.tag("prod/api", "v9.9.9") != winner.CanonicalDigest() {
		t.Fatalf("v9.9.9 = %s, want the one accepted push", h.tag("prod/api", "v9.9.9"))
	}
}
