package validate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// TestConfigBudget: configs are read only while their bytes fit in the
// validator's budget. A result that keeps its config (for a scanner)
// holds its bytes until Release; a check that finds no room within the
// wait is refused with 429 TOOMANYREQUESTS, one whose request ends gets
// the context's error; a result that keeps nothing, and a refusal, hold
// nothing.
func TestConfigBudget(t *testing.T) {
	v, err := New(Options{ConfigBudget: maxConfigBytes})
	if err != nil {
		t.Fatal(err)
	}
	v.budget.wait = 50 * time.Millisecond
	big := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(fuzzLayers[0]).String() +
		`"]},"padding":"` + strings.Repeat("p", 5<<20) + `"}`
	first, m1 := hostileImage([]byte(big))
	second, m2 := hostileImage([]byte(strings.Replace(big, "padding", "paddinG", 1)))
	ctx := context.Background()

	m1.KeepConfig = true
	kept, err := v.Validate(ctx, m1, first, first)
	if err != nil || string(kept.RawConfig) != big || kept.Config.OS != "linux" {
		t.Fatalf("kept config: %v", err)
	}
	_, err = v.Validate(ctx, m2, second, second)
	var e errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.ErrorCodeTooManyRequests {
		t.Fatalf("a second 5 MiB config while the first is kept in an 8 MiB budget: %v, want TOOMANYREQUESTS", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v.Validate(cancelled, m2, second, second); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting with an ended request: %v, want its context's error", err)
	}

	kept.Release()
	kept.Release() // twice: no effect
	if kept.RawConfig != nil {
		t.Fatal("Release kept the bytes")
	}
	for range 3 { // nothing kept: nothing held past the check
		res, err := v.Validate(ctx, m2, second, second)
		if err != nil || res.RawConfig != nil {
			t.Fatalf("after Release: %v (raw config kept: %v)", err, res != nil && res.RawConfig != nil)
		}
	}
	// A refusal after the config was read keeps nothing, kept or not.
	linted, err := New(Options{ConfigBudget: maxConfigBytes, Lint: []LintRule{{Repositories: "team/**", Labels: []string{"team"}}}})
	if err != nil {
		t.Fatal(err)
	}
	linted.budget.wait = v.budget.wait
	for range 3 {
		_, err := linted.Validate(ctx, m1, first, first)
		if !errors.As(err, &e) || e.Code != errcode.ErrorCodeDenied {
			t.Fatalf("an image the lint rule refuses: %v, want DENIED (not a wait on a config a refusal kept)", err)
		}
	}
	if _, err := New(Options{ConfigBudget: maxConfigBytes - 1}); err == nil {
		t.Error("a budget smaller than the largest config was accepted")
	}
}

// TestConfigBudgetSharesByPusher (attack: one pusher keeps large configs
// in the budget — each held until its scan, which waits in the pusher's
// own scan line — so that everyone else's push waits for room and is
// refused 429): one identity holds at most a quarter of the budget, and a
// small config goes ahead of a large one waiting for room.
func TestConfigBudgetSharesByPusher(t *testing.T) {
	v, err := New(Options{ConfigBudget: 4 * maxConfigBytes}) // a share of one 8 MiB config
	if err != nil {
		t.Fatal(err)
	}
	v.budget.wait = 50 * time.Millisecond
	as := func(who string) context.Context {
		info := &reqctx.Info{}
		info.SetIdentity(reqctx.Identity{Subject: who})
		return reqctx.With(context.Background(), info)
	}
	large := func(pad string) (memBlobs, Manifest) {
		return hostileImage([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` +
			digest.FromBytes(fuzzLayers[0]).String() + `"]},"` + pad + `":"` + strings.Repeat("p", 5<<20) + `"}`))
	}
	first, m1 := large("a")
	second, m2 := large("b")
	m1.KeepConfig = true
	kept, err := v.Validate(as("mallory"), m1, first, first)
	if err != nil {
		t.Fatal(err)
	}
	var e errcode.Error
	if _, err := v.Validate(as("mallory"), m2, second, second); !errors.As(err, &e) || e.Code != errcode.ErrorCodeTooManyRequests ||
		!strings.Contains(e.Message, "one pusher may hold at most") {
		t.Fatalf("mallory's second 5 MiB config past her 8 MiB share: %v, want TOOMANYREQUESTS naming the pusher's share", err)
	}
	if _, err := v.Validate(as("alice"), m2, second, second); err != nil {
		t.Fatalf("alice's config while mallory holds her share: %v", err)
	}

	// The whole budget full but for 2 MiB (six 5 MiB configs kept, each by
	// its own pusher): a 5 MiB config waits, a small one goes ahead of it.
	hold := []*Result{kept}
	for i, who := range []string{"bob", "carol", "frank", "grace", "heidi"} {
		blobs, m := large(fmt.Sprint("pad", i))
		m.KeepConfig = true
		res, err := v.Validate(as(who), m, blobs, blobs)
		if err != nil {
			t.Fatal(err)
		}
		hold = append(hold, res)
	}
	v.budget.wait = time.Minute // a deadline for a hang, not a wait for a result
	waiting := make(chan error, 1)
	go func() {
		_, err := v.Validate(as("dave"), m2, second, second)
		waiting <- err
	}()
	for deadline := time.Now().Add(time.Minute); v.budget.waiting.Load() == 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("dave's 5 MiB config did not wait for room in a budget 2 MiB short of it")
		}
	}
	small, ms := hostileImage([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` +
		digest.FromBytes(fuzzLayers[0]).String() + `"]}}`))
	if _, err := v.Validate(as("erin"), ms, small, small); err != nil {
		t.Fatalf("a small config while a large one waits for room: %v", err)
	}
	for _, r := range hold {
		r.Release()
	}
	if err := <-waiting; err != nil {
		t.Fatalf("the large config once room was given back: %v", err)
	}
}
