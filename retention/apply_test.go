package retention

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/lifecycle"
)

// TestDeleteChecksTheTagAgain: a planned deletion whose tag moved or went
// since the plan is skipped, saying so; one whose tag still names the
// planned digest is deleted. This is what makes a retried or raced apply
// safe.
func TestDeleteChecksTheTagAgain(t *testing.T) {
	ctx := context.Background()
	driver := inmemory.New()
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := lifecycle.NewRetention([]lifecycle.RetentionRule{{Repositories: "dev/**", KeepLast: 1}})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Namespace: ns, Driver: driver, Rules: rules, MaxDeletions: 10,
		Guard: func(r distribution.Repository) distribution.Repository { return r }})
	r, err := s.repository(ctx, "dev/tool")
	if err != nil {
		t.Fatal(err)
	}
	planned, other := digest.FromString("planned"), digest.FromString("other")
	for tag, d := range map[string]digest.Digest{"still": planned, "moved": other} {
		if err := r.Tags(ctx).Tag(ctx, tag, v1.Descriptor{Digest: d}); err != nil {
			t.Fatal(err)
		}
	}
	rp := lifecycle.RepositoryPlan{Repository: "dev/tool", Rule: `retention "dev/**" (keeplast 1)`}
	verdict := func(tag string) lifecycle.Verdict {
		return lifecycle.Verdict{TagState: lifecycle.TagState{Tag: tag, Digest: planned, PushedAt: time.Now()}, Why: "figures"}
	}
	for tag, want := range map[string]string{"moved": "moved to " + other.String() + " since planned", "gone": "deleted since planned"} {
		if _, skip, err := s.delete(ctx, rp, verdict(tag)); err != nil || skip != want {
			t.Errorf("%s: skip %q (%v), want %q", tag, skip, err, want)
		}
	}
	d, skip, err := s.delete(ctx, rp, verdict("still"))
	if err != nil || skip != "" || d.Tag != "still" || !strings.HasSuffix(d.Why, ": figures") {
		t.Fatalf("still: %+v, skip %q, %v", d, skip, err)
	}
	var gone distribution.ErrTagUnknown
	if _, err := r.Tags(ctx).Get(ctx, "still"); !errors.As(err, &gone) {
		t.Fatalf("still not deleted: %v", err)
	}
	if _, err := r.Tags(ctx).Get(ctx, "moved"); err != nil {
		t.Fatalf("the moved tag was touched: %v", err)
	}
}
