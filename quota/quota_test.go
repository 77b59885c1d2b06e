package quota

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// mutexLocks is a Locker for one process: one mutex per key, taken in
// sorted order.
type mutexLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (m *mutexLocks) Lock(_ context.Context, keys []string) (func(), error) {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	var held []*sync.Mutex
	for _, k := range keys {
		m.mu.Lock()
		if m.locks == nil {
			m.locks = map[string]*sync.Mutex{}
		}
		l := m.locks[k]
		if l == nil {
			l = &sync.Mutex{}
			m.locks[k] = l
		}
		m.mu.Unlock()
		l.Lock()
		held = append(held, l)
	}
	return func() {
		for _, l := range held {
			l.Unlock()
		}
	}, nil
}

func newQuotas(t *testing.T, warn func(context.Context, Warning), rules ...Rule) *Quotas {
	t.Helper()
	q, err := New(Options{Rules: rules, Store: fleet.NewMemory(0), Locks: &mutexLocks{}, Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func blob(name string, size int64) Blob { return Blob{Digest: digest.FromString(name), Size: size} }

func item(repo, manifest string, blobs ...Blob) Item {
	m := blob(manifest, 10)
	return Item{Repository: repo, Manifest: m.Digest, Blobs: append([]Blob{m}, blobs...)}
}

func used(t *testing.T, q *Quotas, repo string) int64 {
	t.Helper()
	b, ok := q.BudgetOf(repo)
	if !ok {
		t.Fatalf("%s has no budget", repo)
	}
	n, err := q.Used(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUniqueBlobsPerNamespace(t *testing.T) {
	q := newQuotas(t, nil, Rule{Repositories: "**", MaxBytes: 1 << 20})
	ctx := context.Background()
	base := blob("base-layer", 1000)
	if _, err := q.Charge(ctx, []Item{item("team/a", "m1", base, blob("cfg1", 100))}); err != nil {
		t.Fatal(err)
	}
	if got := used(t, q, "team/a"); got != 1110 {
		t.Fatalf("used %d, want 1110 (manifest 10 + layer 1000 + config 100)", got)
	}
	// The same base layer in another repository of the namespace: counted once.
	if _, err := q.Charge(ctx, []Item{item("team/b", "m2", base, blob("cfg2", 100))}); err != nil {
		t.Fatal(err)
	}
	if got := used(t, q, "team/x"); got != 1220 {
		t.Fatalf("used %d, want 1220", got)
	}
	// A retried push of the same manifest to the same repository: nothing.
	if _, err := q.Charge(ctx, []Item{item("team/b", "m2", base, blob("cfg2", 100))}); err != nil {
		t.Fatal(err)
	}
	if got := used(t, q, "team/b"); got != 1220 {
		t.Fatalf("a retried push charged again: %d", got)
	}
	// Another namespace has its own budget.
	if _, err := q.Charge(ctx, []Item{item("other/a", "m1", base)}); err != nil {
		t.Fatal(err)
	}
	if got := used(t, q, "other"); got != 1010 {
		t.Fatalf("other used %d, want 1010", got)
	}
	// Deleting team/a's manifest frees its config and manifest; the base
	// layer stays (team/b references it).
	if err := q.Discharge(ctx, "team/a", digest.FromString("m1")); err != nil {
		t.Fatal(err)
	}
	if got := used(t, q, "team/b"); got != 1110 {
		t.Fatalf("after deleting team/a's image: %d, want 1110", got)
	}
	if err := q.Discharge(ctx, "team/b", digest.FromString("m2")); err != nil {
		t.Fatal(err)
	}
	if got := used(t, q, "team/b"); got != 0 {
		t.Fatalf("after deleting every image: %d, want 0", got)
	}
}

func TestChargeRefusesPastTheLimitWithTheNumbers(t *testing.T) {
	q := newQuotas(t, nil, Rule{Repositories: "team/**", MaxBytes: 2000})
	ctx := context.Background()
	if _, err := q.Charge(ctx, []Item{item("team/a", "m1", blob("l1", 1500))}); err != nil {
		t.Fatal(err)
	}
	_, err := q.Charge(ctx, []Item{item("team/a", "m2", blob("l2", 600))})
	var e *Exceeded
	if !errors.As(err, &e) || e.Used != 1510 || e.Need != 610 || e.Budget.Limit != 2000 || e.Budget.Name != "team" {
		t.Fatalf("error %v, want used 1510 need 610 limit 2000", err)
	}
	want := "quota of team exceeded: 1.475KiB used + 610B in this push > 1.953KiB limit; delete images in team or ask an administrator to raise lifecycle.quotas"
	if e.OCI().Message != want {
		t.Fatalf("message %q\nwant    %q", e.OCI().Message, want)
	}
	if got := used(t, q, "team/a"); got != 1510 {
		t.Fatalf("a refused charge changed usage: %d", got)
	}
	if err := q.AdmitBlob(ctx, "team/a", digest.FromString("l3"), 600); !errors.As(err, &e) || e.What != "blob" {
		t.Fatalf("blob upload past the limit: %v", err)
	}
	if err := q.AdmitBlob(ctx, "team/a", digest.FromString("l1"), 1500); err != nil {
		t.Fatalf("a blob the namespace holds already: %v", err)
	}
	if _, err := q.Charge(ctx, []Item{item("free/a", "m2", blob("l2", 1<<30))}); err != nil {
		t.Fatalf("a repository without a quota: %v", err)
	}
}

func TestSharedPatternBudget(t *testing.T) {
	q := newQuotas(t, nil, Rule{Repositories: "ml/models/**", Shared: true, MaxBytes: 5000}, Rule{Repositories: "**", MaxBytes: 100})
	if b, _ := q.BudgetOf("ml/models/a"); b.Name != "ml/models/**" || b.Limit != 5000 {
		t.Fatalf("budget %+v", b)
	}
	if b, _ := q.BudgetOf("ml/data"); b.Name != "ml" || b.Limit != 100 {
		t.Fatalf("budget %+v", b)
	}
}

// TestConcurrentChargesNeverPassTheLimit: N pushers of distinct images at
// the limit; the accepted ones fit, and the counter is their sum.
func TestConcurrentChargesNeverPassTheLimit(t *testing.T) {
	const n, size, limit = 32, 1000, 10_500
	q := newQuotas(t, nil, Rule{Repositories: "**", MaxBytes: limit})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := range n {
		wg.Go(func() {
			_, err := q.Charge(context.Background(), []Item{item(fmt.Sprintf("team/app%d", i), fmt.Sprint("m", i), blob(fmt.Sprint("l", i), size-10))})
			mu.Lock()
			defer mu.Unlock()
			var e *Exceeded
			switch {
			case err == nil:
				accepted++
			case errors.As(err, &e) && e.Budget.Limit == limit && e.Used+e.Need > limit:
				refused++
			default:
				t.Errorf("charge %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := used(t, q, "team/x")
	if got > limit || got != int64(accepted*size) || accepted != limit/size || accepted+refused != n {
		t.Fatalf("used %d of %d: %d accepted, %d refused", got, limit, accepted, refused)
	}
}

func TestWarningOncePerCrossing(t *testing.T) {
	var warnings []Warning
	q := newQuotas(t, func(_ context.Context, w Warning) { warnings = append(warnings, w) }, Rule{Repositories: "**", MaxBytes: 1000})
	ctx := context.Background()
	for i, size := range []int64{500, 290, 50, 50} { // 510, 810 (crosses 80 %), 870, 930
		if _, err := q.Charge(ctx, []Item{item("team/a", fmt.Sprint("m", i), blob(fmt.Sprint("l", i), size))}); err != nil {
			t.Fatal(err)
		}
	}
	if len(warnings) != 1 || warnings[0].Used != 810 || warnings[0].Percent != 81 || warnings[0].Budget != "team" {
		t.Fatalf("warnings %+v, want one at 810 bytes (81 %%)", warnings)
	}
}

// TestRepositoryCount: a budget with MaxRepositories refuses a push that
// would add one repository too many; more images in a counted repository
// pass; deleting a repository's last image frees its place.
func TestRepositoryCount(t *testing.T) {
	q := newQuotas(t, nil, Rule{Repositories: "**", MaxRepositories: 2})
	ctx := context.Background()
	for _, it := range []Item{item("team/a", "m1"), item("team/b", "m2"), item("team/a", "m3")} {
		if _, err := q.Charge(ctx, []Item{it}); err != nil {
			t.Fatalf("%s: %v", it.Repository, err)
		}
	}
	_, err := q.Charge(ctx, []Item{item("team/c", "m4")})
	var e *Exceeded
	want := "quota of team exceeded: 2 repositories of 2 allowed, and team/c would be one more; delete the images of a repository in team or ask an administrator to raise lifecycle.quotas"
	if !errors.As(err, &e) || e.OCI().Message != want {
		t.Fatalf("third repository: %v\nwant %s", err, want)
	}
	if err := q.Discharge(ctx, "team/a", digest.FromString("m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Charge(ctx, []Item{item("team/c", "m4")}); err == nil {
		t.Fatal("team/a still holds an image, yet team/c was admitted")
	}
	if err := q.Discharge(ctx, "team/a", digest.FromString("m3")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Charge(ctx, []Item{item("team/c", "m4")}); err != nil {
		t.Fatalf("after team/a's last image was deleted: %v", err)
	}
	b, _ := q.BudgetOf("team/c")
	if n, _ := q.Repositories(ctx, b); n != 2 {
		t.Fatalf("%d repositories counted, want 2", n)
	}
	if err := q.AdmitBlob(ctx, "team/d", digest.FromString("big"), 1<<40); err != nil {
		t.Fatalf("a budget without a byte limit refused a blob: %v", err)
	}
}

// failingPuts is a fleet store whose writes of manifest charges fail.
type failingPuts struct{ fleet.Store }

func (f failingPuts) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	if strings.HasPrefix(key, "m/") {
		return 0, errors.New("injected store failure")
	}
	return f.Store.Put(ctx, space, key, value, expect, ttl)
}

// TestChargeFailingPartWayCountsMoreNeverLess: the fleet store fails after
// the counter was written: Charge returns the error (without deadlocking
// on its own locks while giving back), and the budget counts at least
// what it holds, so no later push can pass the limit because of it.
func TestChargeFailingPartWayCountsMoreNeverLess(t *testing.T) {
	q, err := New(Options{Rules: []Rule{{Repositories: "**", MaxBytes: 1000}}, Store: failingPuts{fleet.NewMemory(0)}, Locks: &mutexLocks{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Charge(context.Background(), []Item{item("team/a", "m1", blob("l1", 500))}); err == nil {
		t.Fatal("the charge succeeded although the store failed")
	}
	if got := used(t, q, "team/a"); got != 510 {
		t.Fatalf("used %d, want 510: the failed charge stays counted (more, never less)", got)
	}
}
