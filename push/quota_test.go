package push

import (
	"context"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/quota"
)

func quotaHarness(t *testing.T, limit int64, faulty *failingDriver) (*harness, *quota.Quotas) {
	t.Helper()
	q, err := quota.New(quota.Options{Rules: []quota.Rule{{Repositories: "**", MaxBytes: limit}}, Store: fleet.NewMemory(0), Locks: NewLocalLocks()})
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, faulty.wrap(), t.TempDir()+"/records.db", func(o *Options) { o.Quotas = q }), q
}

func usedBy(t *testing.T, q *quota.Quotas, repo string) int64 {
	t.Helper()
	b, _ := q.BudgetOf(repo)
	n, err := q.Used(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestQuotaRefusalIsRecordedAndAFailedCommitGivesItBack: a push past the
// quota is recorded rejected with the numbers; a commit that fails after
// the charge (tagging fails) leaves the usage where it was.
func TestQuotaRefusalIsRecordedAndAFailedCommitGivesItBack(t *testing.T) {
	faulty := &failingDriver{}
	h, q := quotaHarness(t, 700, faulty)
	ctx := context.Background()
	first := newPush("team/a", h.image("team/a", "one"))
	if err := h.pipeline.Run(ctx, first); err != nil {
		t.Fatal(err)
	}
	after := usedBy(t, q, "team/a")
	if after == 0 || after != first.Record().Size {
		t.Fatalf("used %d after one image of %d bytes", after, first.Record().Size)
	}
	faulty.failTagWritesIn("team/b")
	if err := h.pipeline.Run(ctx, newPush("team/b", h.image("team/b", "two"), "v1")); err == nil {
		t.Fatal("the commit succeeded although tagging failed")
	}
	if got := usedBy(t, q, "team/a"); got != after {
		t.Fatalf("used %d after a failed commit, want %d", got, after)
	}
	faulty.failTagWritesIn("")
	var refused *Push
	for i := range 10 {
		x := newPush("team/c", h.image("team/c", strings.Repeat("x", i+1)))
		if err := h.pipeline.Run(ctx, x); err != nil {
			refused = x
			if !strings.Contains(err.Error(), "quota of team exceeded: ") {
				t.Fatalf("refusal %v", err)
			}
			break
		}
	}
	if refused == nil {
		t.Fatal("ten images fit a 700-byte quota")
	}
	rec := h.record(refused.Record().ID)
	if rec.Status != metadata.StatusRejected || !strings.HasPrefix(rec.Reason, "quota of team exceeded: ") || h.stored("team/c", refused.CanonicalDigest()) {
		t.Fatalf("refused push: %s %q", rec.Status, rec.Reason)
	}
	if got := usedBy(t, q, "team/a"); got > 700 {
		t.Fatalf("used %d past the 700-byte limit", got)
	}
}
