package retention

import (
	"context"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/pulls"
)

// fakePulls answers fixed pull records.
type fakePulls struct {
	recs      map[string]pulls.Record
	truncated bool
	since     time.Time
}

func (f fakePulls) Lookup(context.Context, string) (map[string]pulls.Record, bool, error) {
	return f.recs, f.truncated, nil
}

func (f fakePulls) Since(context.Context) (time.Time, bool, error) {
	return f.since, !f.since.IsZero(), nil
}

// TestPlanReadsPulls: under a rule with keeppulleddays the plan reads the
// pulls of the tags' manifests and keeps the pulled tag; when the pull
// records were too many to read whole, no tag is deleted as unpulled and
// the plan says so; without a pull reader nothing is deleted as
// unpulled either.
func TestPlanReadsPulls(t *testing.T) {
	ctx := context.Background()
	driver := inmemory.New()
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := lifecycle.NewRetention([]lifecycle.RetentionRule{{Repositories: "dev/**", KeepDays: 1, KeepPulledDays: 10}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(30 * 24 * time.Hour) // every tag pushed 30 days before the plan
	pulledD, otherD := digest.FromString("pulled"), digest.FromString("other")
	s := New(Options{Namespace: ns, Driver: driver, Rules: rules, Now: func() time.Time { return now }})
	r, err := s.repository(ctx, "dev/tool")
	if err != nil {
		t.Fatal(err)
	}
	for tag, d := range map[string]digest.Digest{"pulled": pulledD, "other": otherD} {
		if err := r.Tags(ctx).Tag(ctx, tag, v1.Descriptor{Digest: d}); err != nil {
			t.Fatal(err)
		}
	}
	fp := fakePulls{recs: map[string]pulls.Record{pulledD.String(): {At: now.Add(-48 * time.Hour)}}, since: now.Add(-20 * 24 * time.Hour)}
	clauses := func(pr PullReader) (map[string]string, []string) {
		s.opts.Pulls = pr
		p, err := s.Plan(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, rp := range p.Repositories {
			for _, v := range append(rp.Keep, rp.Delete...) {
				out[v.Tag] = v.Clause
			}
		}
		return out, p.Truncated
	}
	if got, _ := clauses(fp); got["pulled"] != lifecycle.ClauseKeepPulled || got["other"] != lifecycle.ClauseExpired {
		t.Fatalf("plan: %v, want pulled kept by keeppulleddays, other expired", got)
	}
	fp.truncated = true
	if got, cut := clauses(fp); got["other"] != lifecycle.ClauseKeepPulled || len(cut) != 1 {
		t.Fatalf("truncated pull records: %v %v, want nothing deleted as unpulled and the plan saying why", got, cut)
	}
	if got, _ := clauses(nil); got["other"] != lifecycle.ClauseKeepPulled {
		t.Fatalf("no pull reader: %v, want nothing deleted as unpulled", got)
	}
}
